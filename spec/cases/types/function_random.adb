function dice() -> int {
  return Random.genBoundInt(6);
  // expect error E0318 at 2:17
}
