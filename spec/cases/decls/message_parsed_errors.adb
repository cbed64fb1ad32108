// `@parsed` touches only its message's fields (no document, no procedure, no value returned);
// `@silent` belongs to message fields.
public int count;
message M {
  int x;
  @parsed { count = x; }
  @parsed { return 1; }
}
record R { public int id; int z @silent; }
procedure p() {}
message Q { int x; @parsed { p(); } }
// expect error E0318 at 6:13
// expect error E0402 at 7:20
// expect error E0321 at 9:27
// expect error E0318 at 11:30
