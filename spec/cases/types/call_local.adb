function f() -> int {
  int x = 1;
  return x(2);
  // expect error E0303 at 3:10
}
