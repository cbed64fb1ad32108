// A readonly table is filled by @construct only.
record R { public int id; public int x; }
readonly table<R> rows;
@construct {
  rows <- {x: 1};
}
procedure add() {
  rows <- {x: 2};
// expect error E0317 at 8:3
}
