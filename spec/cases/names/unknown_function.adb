function f() -> int {
  return foo(1);
  // expect error E0205 at 2:10
}
