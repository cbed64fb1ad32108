function f(int n) -> int {
  foreach (x in n) {
    // expect error E0306 at 2:17
  }
  return 0;
}
