function f(int x) -> int {
  @debug("{0} and {1}", x);
  // expect error E0411 at 2:10
  return x;
}
