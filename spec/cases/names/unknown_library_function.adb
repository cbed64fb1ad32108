function f(int x) -> int {
  return Math.absolute(x);
  // expect error E0205 at 2:15
}
