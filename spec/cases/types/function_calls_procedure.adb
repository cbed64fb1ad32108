procedure noop() {
}

function f() -> int {
  noop();
  // expect error E0318 at 5:3
  return 1;
}
