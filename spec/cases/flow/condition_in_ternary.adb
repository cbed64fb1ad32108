function f(int x) -> int {
  return x ? 1 : 2;
  // expect error E0311 at 2:10
}
