// What each body may do: abort, transition, @destroy, @debug, assert.
public int stock;
public int balance;
public bool expired;

message Withdraw {
  int amount;
}

procedure take(int n) aborts {
  assert (n > 0);
  if (n > stock) {
    abort;
  }
  stock -= n;
}

procedure peek() -> int readonly {
  return stock;
}

procedure end_it() {
  if (expired) {
    @destroy;
  }
  transition #closed;
}

channel withdraw(Withdraw w) {
  take(w.amount);
  balance -= w.amount + peek();
  if (balance < 0) {
    abort;
  }
  @debug("balance {0} after {1}", balance, w.amount);
  end_it();
}

#closed {
  take(1);
  return;
}

@cron sweep daily 3:30 {
  end_it();
  take(2);
}
