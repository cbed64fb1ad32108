function f(int a) -> bool {
  return a && true;
  // expect error E0302 at 2:10
}
