// 'new' is reserved, as in Adama.
function f() -> int {
  int new = 2;
  return new;
}
// expect error E0105 at 3:7
