function f(int x) -> int {
  int x = 2;
  // expect error E0211 at 2:7
  return x;
}
