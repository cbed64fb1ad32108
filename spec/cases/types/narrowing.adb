function narrow(double d) -> int {
  int n = d;
  // expect error E0301 at 2:11
  return n;
}
