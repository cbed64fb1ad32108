// An expense approval workflow. The requester creates the document with the
// expense, their manager, a director and how many days the manager has (two
// unless said). The document asks the manager and waits durably; a silent
// manager's request escalates to the director, as do large amounts. A
// rejection without a reason is refused and the question stays open.

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
  int days;
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
public int manager_days = 2;

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
  if (r.days > 0) {
    manager_days = r.days;
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

// Written before the await: a wait that survives restarts and resumes after
// the answer never runs it again, so it keeps the time the manager was asked.
public datetime manager_asked;

#waitForManager {
  status = Status::Pending;
  manager_asked = Time.datetime();
  // If the manager stays silent that long, #escalate takes over.
  transition #escalate in manager_days * 86400;
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
