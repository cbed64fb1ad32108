function f() -> int {
  return 1;
  int x = 2;
  // expect error E0406 at 3:3
}
