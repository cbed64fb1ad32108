function f(int x) -> int {
  switch (x) {
    default:
      return 1;
    default:
      // expect error E0410 at 5:5
      return 2;
  }
}
