// A parameter list must be closed before '->'.
function twice(int a -> int {
  return a * 2;
}
// expect error E0101 at 2:22
