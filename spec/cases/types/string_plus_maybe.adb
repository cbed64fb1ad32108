function f(maybe<int> m) -> string {
  return "value: " + m;
  // expect error E0302 at 2:22
}
