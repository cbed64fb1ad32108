function f(int[] xs) -> int {
  if (xs["first"] as x) {
    // expect error E0316 at 2:10
    return x;
  }
  return 0;
}
