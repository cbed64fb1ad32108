// A checkout that charges a card through a payment service (issue 13).
// The customer fills a cart and checks out; the #pay state calls the
// `payments` service and awaits its answer durably: the charge is made once
// the transaction that asked for it commits, its result comes back as a
// logged input, and a server that dies meanwhile makes the same call again
// (same Idempotency-Key) when it wakes the document. Where the service lives
// is configured outside the document (advm run --services services.toml,
// spec/protocol.md 8.14). A declined or failed charge sends the cart back to
// the customer with the service's reason. A paid order is replicated to
// the `inventory` service (spec/language.md 4.30): created there once paid,
// retried with backoff while inventory is down, never sent twice.

@static {
  create { return true; }
}

@connected {
  return @who == customer;
}

service payments {
  message ChargeRequest { string order; int cents; string currency; }
  message ChargeReceipt { string charge_id; string status; }
  method<ChargeRequest, ChargeReceipt> charge;
}

service inventory {
  message PaidOrder { string order; int cents; int lines; string charge_id; }
  message Noted { }
  method<PaidOrder, Noted> orders;
}

enum Phase { Cart, Paying, Paid, Declined }

record Line {
  public int id;
  public string sku;
  public int cents;
  public int qty;
}

message Add { string sku; int cents; int qty; }
message Checkout { }

public principal customer;
table<Line> _lines;
public formula lines = iterate _lines;
public int total_cents = 0;
public Phase phase = Phase::Cart;
public string charge_id = "";
public string declined_because = "";
public int attempts = 0;
replication<inventory:orders> paid_order = phase == Phase::Paid
  ? @maybe({order: Document.key(), cents: total_cents, lines: _lines.size(), charge_id: charge_id})
  : @maybe<PaidOrder>;

@construct {
  customer = @who;
}

channel add(Add a) {
  if (@who != customer || (phase != Phase::Cart && phase != Phase::Declined) || a.qty <= 0 || a.cents <= 0) {
    abort;
  }
  _lines <- {sku: a.sku, cents: a.cents, qty: a.qty};
  total_cents += a.cents * a.qty;
  phase = Phase::Cart;
}

channel checkout(Checkout c) {
  if (@who != customer || total_cents == 0 || (phase != Phase::Cart && phase != Phase::Declined)) {
    abort;
  }
  phase = Phase::Paying;
  transition #pay;
}

#pay {
  attempts += 1;
  let charged = payments.charge(customer, {order: Document.key(), cents: total_cents, currency: "EUR"});
  if (charged.await() as receipt) {
    charge_id = receipt.charge_id;
    declined_because = "";
    phase = Phase::Paid;
  } else {
    declined_because = charged.message();
    phase = Phase::Declined;
  }
}
