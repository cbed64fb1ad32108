function f() -> int {
  return Random.genBoundInt();
  // expect error E0304 at 2:10
}
