// An expense approval workflow.
//
// The requester creates the document with the expense, their manager and a
// director. The document asks the manager to decide and waits durably: if
// the manager has not answered in two days, the request escalates to the
// director. Large amounts need the director too. A rejection must give a
// reason; a rejection without one is refused and the question stays open.

@static {
  create {
    return !@who.isAnonymous();
  }
  maximum_history = 100;
}

enum Status { Pending, Escalated, Approved, Rejected, Withdrawn }

record Step {
  public int id;
  public principal actor;
  public string role;
  public bool approve;
  public string comment;
  public datetime at;
}

message Request {
  string title;
  long amount;
  principal manager;
  principal director;
}

message Decision {
  bool approve;
  string comment;
}

message Withdraw {
  string reason;
}

readonly principal requester;
readonly string title;
readonly long amount;
private principal manager;
private principal director;
public Status status;
public long director_threshold = 10000L;

table<Step> _history;
channel<Decision> manager_decision;
channel<Decision> director_decision;

public formula history = iterate _history;
public formula steps = _history.size();
viewer_is<manager> string manager_note = "Please review this expense.";
viewer_is<director> string director_note = "Escalated expense awaiting you.";
bubble my_role = @who == requester ? "requester" : @who == manager ? "manager" : @who == director ? "director" : "viewer";

@construct (Request r) {
  requester = @who;
  title = r.title;
  amount = r.amount;
  manager = r.manager;
  director = r.director;
  if (amount <= 0L) {
    abort;
  }
  transition #waitForManager;
}

@connected {
  return @who == requester || @who == manager || @who == director;
}

function valid(Decision d) -> bool {
  return d.approve || d.comment.trim().length() > 0;
}

procedure record_step(principal actor, string role, Decision d) {
  _history <- {actor, role: role, approve: d.approve, comment: d.comment.trim(), at: Time.datetime()};
}

#waitForManager {
  status = Status::Pending;
  // If the manager stays silent for two days, #escalate takes over.
  transition #escalate in 172800;
  Decision d = manager_decision.fetch(manager).await();
  if (!valid(d)) {
    abort;
  }
  record_step(manager, "manager", d);
  if (!d.approve) {
    transition #rejected;
  } else if (amount > director_threshold) {
    transition #waitForDirector;
  } else {
    transition #approved;
  }
}

#escalate {
  status = Status::Escalated;
  _history <- {actor: manager, role: "manager", approve: false, comment: "no answer within two days", at: Time.datetime()};
  transition #waitForDirector;
}

#waitForDirector {
  Decision d = director_decision.fetch(director).await();
  if (!valid(d)) {
    abort;
  }
  record_step(director, "director", d);
  if (d.approve) {
    transition #approved;
  } else {
    transition #rejected;
  }
}

#approved {
  status = Status::Approved;
}

#rejected {
  status = Status::Rejected;
}

#withdrawn {
  status = Status::Withdrawn;
}

// The requester may withdraw while the request is open; the transition
// replaces any pending escalation and ends the wait.
channel withdraw(Withdraw w) {
  if (@who != requester || status == Status::Approved || status == Status::Rejected || status == Status::Withdrawn) {
    abort;
  }
  _history <- {actor: @who, role: "requester", approve: false, comment: w.reason, at: Time.datetime()};
  transition #withdrawn;
}
