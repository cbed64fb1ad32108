// A function may read the clock, as in Adama, but not draw from the document's random stream.
function roll() -> int {
  return Random.genBoundInt(6);
}
// expect error E0318 at 3:17
