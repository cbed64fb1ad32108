// A document using every top-level declaration kind once, with nothing unsupported.
enum Mode { Open, Closed }

record Item {
  public int id;
  public string name;
  index name;
}

message Add {
  string name;
}

table<Item> _items;
public Mode mode;
public formula count = _items.size();
bubble greeting = "hello " + @who;

policy anyone {
  return true;
}

function twice(int x) -> int {
  return x * 2;
}

procedure add(string name) {
  _items <- {name: name};
}

channel put(Add a) {
  add(a.name);
}

channel<Add> ask;

#idle {
}

@construct {
  mode = Mode::Open;
}

@cron tidy daily 4:00 {
  (iterate _items where name == "").delete();
}

@static {
  create {
    return true;
  }
}

test doubles {
  assert (twice(2) == 4);
}
