// A readonly parameter cannot be assigned in the body.
function f(readonly int n) -> int {
  n += 1;
  return n;
}
// expect error E0317 at 3:3
