function f(int x) -> int {
  if (x as y) {
    // expect error E0305 at 2:7
    return y;
  }
  return 0;
}
