function f() -> int {
  return missing + 1;
  // expect error E0201 at 2:10
}
