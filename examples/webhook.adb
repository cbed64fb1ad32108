// A webhook receiver (issue 13 point 7): a payment provider PUTs (or POSTs)
// events to /~d/<key>/hook/<source>; each one is one logged transaction that
// viewers see at once. A refund larger than what was paid aborts: the
// provider gets 409 and nothing changed. GET /summary answers JSON, read-only.
@static {
  create {
    return true;
  }
}

@connected {
  return true;
}

message Event {
  string id;
  string kind;
  int cents;
}

record Received {
  public int id;
  public string source;
  public string event;
  public string kind;
  public int cents;
}

public table<Received> received;
public int balance;
public formula events = received.size();

@web put /hook/$source:string (Event e) {
  if (e.id == "" || (iterate received where event == e.id).size() > 0) {
    return {json: Dynamic.dyn(balance), status: 200};
  }
  if (e.kind == "paid") {
    balance += e.cents;
  } else if (e.kind == "refunded") {
    if (e.cents > balance) {
      abort;
    }
    balance -= e.cents;
  } else {
    return {error: "unknown kind " + e.kind, status: 422};
  }
  received <- {source: source, event: e.id, kind: e.kind, cents: e.cents};
  return {json: Dynamic.dyn(balance), status: 201};
}

@web get /summary {
  return {json: Dynamic.dyn(balance), cache_ttl_seconds: 1};
}

@web get /events/$n:int {
  string out = "";
  foreach (r in received) {
    if (r.id <= n) {
      out = out + r.event + "," + r.kind + "," + r.cents + "\n";
    }
  }
  return {csv: out};
}

@web options /hook/$source:string {
  return {cors: true};
}

@web delete /events {
  (iterate received).delete();
  balance = 0;
  return {html: "cleared"};
}
