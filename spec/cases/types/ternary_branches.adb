function pick(bool b) -> int {
  return b ? 1 : "one";
  // expect error E0301 at 2:10
}
