function bad() -> int {
  return true + 1;
  // expect error E0302 at 2:10
}
