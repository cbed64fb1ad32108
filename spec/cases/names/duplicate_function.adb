function f() -> int {
  return 1;
}

procedure f() {
  // expect error E0204 at 5:11
}
