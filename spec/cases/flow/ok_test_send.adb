// `@send channel(who, message);` in a test (language.md 4.24): the handler runs as `who`, in a
// transaction of its own; a channel of arrays takes an array.
message M {
  int x;
}
message Many {
  int x;
}
public int total;
public principal last;
channel add(M m) {
  total += m.x;
  last = @who;
}
channel many(Many[] ms) {
  foreach (m in ms) {
    total += m.x;
  }
}
channel refuse(M m) {
  if (m.x < 0) {
    abort;
  }
  total = m.x;
}
test sends {
  @send add(@no_one, {x: 3});
  assert total == 3;
  @send add(@no_one, {x: 4});
  assert total == 7;
  @send many(@no_one, [{x: 1}, {x: 2}]);
  assert total == 10;
}
// Inside `@aborts`, a handler's abort is the abort the block expects (as Adama's test catches the
// handler's abort): the message's writes are undone and the test goes on after the block.
test refused_inside_aborts {
  @send refuse(@no_one, {x: 5});
  @aborts {
    total += 1;
    @send refuse(@no_one, {x: -1});
    total += 100;
  }
  assert total == 6;
  @aborts {
    @aborts {
      @send refuse(@no_one, {x: -2});
    }
    abort;
  }
  assert total == 6;
}
