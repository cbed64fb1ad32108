function size_of(Strng s) -> int {
  // expect error E0202 at 1:18
  return 0;
}
