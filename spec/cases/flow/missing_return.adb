function sign(int x) -> int {
  // expect error E0401 at 1:10
  if (x > 0) {
    return 1;
  }
}
