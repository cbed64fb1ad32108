message M { int x; }
message N { string s; }
public int total;
channel add(M m) { total += m.x; }
channel<M> asked;
procedure outside() { @send add(@no_one, {x: 1}); }
test bad_sends {
  @send nowhere(@no_one, {x: 1});
  @send asked(@no_one, {x: 1});
  @send add(3, {x: 1});
  @send add(@no_one, "one");
}
// expect error E0213 at 6:23
// expect error E0208 at 8:9
// expect error E0509 at 9:9
// expect error E0301 at 10:13
// expect error E0301 at 11:22
