function f(int x) -> int {
  return x.value;
  // expect error E0308 at 2:12
}
