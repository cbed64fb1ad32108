// @self exists only where a record or message is the subject.
function f() -> int {
  return 1;
}
procedure p() {
  let s = @self;
}
// expect error E0213 at 6:11
