// The harness's statements and `log` belong to test blocks; @pump needs a channel the document
// fetches from and a message of its type; @forward takes seconds; log takes a string.
public int x;
message Num { int n; }
channel<Num> give;
channel take(Num m) { x = m.n; }
procedure p() {
  @step;
  @forward 1;
  log "x";
  @aborts { x = 1; }
}
test t {
  @pump {n: 1} into take;
  @pump {n: 1} into nowhere;
  @pump 5 into give;
  @forward "soon";
  log 5;
  assert x == 0;
}
// expect error E0213 at 8:3
// expect error E0213 at 9:3
// expect error E0213 at 10:3
// expect error E0213 at 11:3
// expect error E0509 at 14:21
// expect error E0208 at 15:21
// expect error E0301 at 16:9
// expect error E0301 at 17:12
// expect error E0301 at 18:7
