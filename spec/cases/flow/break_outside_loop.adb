function f() -> int {
  break;
  // expect error E0403 at 2:3
  return 0;
}
