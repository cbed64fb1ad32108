// A message's `@parsed { ... }` blocks (language.md 4.5) run, in order, on every message of its
// type made from JSON (a channel's, nested ones too), not on one built in code; `@silent` marks a field.
message M {
  int x @silent;
  int y;
  string name;
  @parsed {
    y = x + 1;
    name = name.trim();
  }
  @parsed {
    y = y * 10;
  }
}
message Box {
  M inner;
}
public int got;
public string who;
channel c(M m) {
  got = m.y;
  who = m.name;
}
channel b(Box bx) {
  got = bx.inner.y;
}
test t {
  @send c(@no_one, {x: 2, name: "  ann "});
  assert got == 30;
  assert who == "ann";
  @send b(@no_one, {inner: {x: 4}});
  assert got == 50;
  M local;
  local.x = 5;
  assert local.y == 0;
}
