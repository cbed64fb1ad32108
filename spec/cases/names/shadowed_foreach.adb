function total(int[] xs) -> int {
  int n = 0;
  foreach (n in xs) {
    // expect error E0211 at 3:3
  }
  return n;
}
