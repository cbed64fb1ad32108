function f(maybe<int> m) -> maybe<int> {
  return @maybe(m);
  // expect error E0309 at 2:10
}
