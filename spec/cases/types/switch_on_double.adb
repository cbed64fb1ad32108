function f(double d) -> int {
  switch (d) {
    // expect error E0302 at 2:11
    default:
      return 0;
  }
}
