// Record methods: bare field names inside, calls on rows and from formulas.
record Counter {
  public int id;
  public int value;

  method bump(int by) {
    value += by;
  }

  method doubled() -> int readonly {
    return value * 2;
  }

  method reset() aborts {
    if (value < 0) {
      abort;
    }
    value = 0;
    bump(1);
  }
}

table<Counter> _counters;
public formula biggest = (iterate _counters order by value desc limit 1).value.max();

procedure bump_all() {
  foreach (c in iterate _counters) {
    c.bump(c.doubled());
  }
}

message Reset {
  bool all;
}

channel reset_all(Reset r) {
  foreach (c in iterate _counters) {
    c.reset();
  }
}
