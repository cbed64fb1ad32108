// A support ticket with an assistant whose refund tool waits on a person
// (spec/language.md 4.31): the customer talks to the `Support` agent; its
// `refund` tool cannot pay anyone (tools write only the agent's mutables), so it
// records the refund it wants and the document's state machine asks the ticket's
// manager with `fetch` (the durable await of language.md 8: it survives restarts,
// for days if need be). Once the manager decides, the document pays or not and
// tells the agent with `chat.ask`, which answers the customer. Only the customer
// and the manager see the conversation (`use_policy<party>`); the customer asks
// through `say`, the manager only decides.
// Serve it with a model: `advm run examples/support.adb --model-url URL`.

@static {
  create { return !@who.isAnonymous(); }
}

message Open {
  string subject;
  principal manager;
}

public principal customer;
public principal manager;
public string subject;

@construct (Open o) {
  customer = @who;
  manager = o.manager;
  subject = o.subject;
}

@connected {
  return @who == customer || @who == manager;
}

policy party {
  return @who == customer || @who == manager;
}

record Refund {
  public int id;
  public int cents;
  public string reason;
  public bool approved;
  public string note;
}

use_policy<party> table<Refund> refunds;

message RefundInput { int cents; string reason; }
message RefundOutput { string status; }
message NoInput { }
message Paid { int cents; int refunds; }
message Say { string text; }
message Decision { bool approve; string note; }

agent Support {
  instructions = "You are a support agent. Be brief. When a refund is due, call refund once with the amount in cents; a manager decides, and you will be told.";
  model = "gpt-4o";
  max_tool_rounds = 3;
  token_budget = 30000;
  staleness_timeout = 120;
  mutable int wanted_cents;
  mutable string wanted_reason;

  @description("Ask for a refund of some cents (a manager approves it)")
  mutating tool<RefundInput, RefundOutput> refund {
    if (request.cents <= 0 || request.cents > 50000) {
      return {status: "refused: between 1 and 50000 cents"};
    }
    if (wanted_cents > 0) {
      return {status: "a refund is already waiting for the manager"};
    }
    wanted_cents = request.cents;
    wanted_reason = request.reason;
    return {status: "waiting for the manager's approval"};
  }

  @description("What this ticket has refunded so far")
  tool<NoInput, Paid> refunded {
    return {cents: (iterate refunds where approved).cents.sum().getOrDefaultTo(0), refunds: refunds.size()};
  }
}

use_policy<party> session<Support> chat;

channel<Decision> approval;

channel say(principal who, Say s) {
  if (who != customer || !chat.ask(who, s.text)) {
    abort;
  }
  transition #watch;
}

// While the conversation runs, look every few seconds for a refund the agent wants.
#watch {
  if (chat.wanted_cents > 0 && chat.status == "idle") {
    transition #approve;
  } else if (chat.status == "processing") {
    transition #watch in 2;
  }
}

// The manager decides; the agent is told, and answers the customer.
#approve {
  Decision d = approval.fetch(manager).await();
  refunds <- {cents: chat.wanted_cents, reason: chat.wanted_reason, approved: d.approve, note: d.note};
  string told = "The manager " + (d.approve ? "approved" : "refused") + " the refund of "
      + chat.wanted_cents + " cents: " + d.note;
  chat.wanted_cents = 0;  // before the ask: a failed ask puts back what it found
  chat.wanted_reason = "";
  chat.ask(manager, told);
  transition #watch;
}
