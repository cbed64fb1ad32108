function f() -> int {
  return;
  // expect error E0405 at 2:3
}
