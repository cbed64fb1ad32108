function f(string fmt) -> int {
  @debug(fmt, 1);
  // expect error E0411 at 2:10
  return 0;
}
