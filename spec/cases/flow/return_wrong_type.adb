function f() -> int {
  return "one";
  // expect error E0405 at 2:10
}
