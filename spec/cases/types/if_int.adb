function f(int x) -> int {
  if (x) {
    // expect error E0311 at 2:7
    return 1;
  }
  return 0;
}
