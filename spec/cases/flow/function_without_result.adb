function f(int x) {
  // expect error E0401 at 1:10
}
