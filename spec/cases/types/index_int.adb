function f(int n) -> int {
  if (n[0] as x) {
    // expect error E0306 at 2:7
    return x;
  }
  return 0;
}
