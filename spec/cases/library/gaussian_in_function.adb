// Random draws advance the document's stream: not in a pure function.
function noise() -> double {
  return Random.getDoubleGaussian();
// expect error E0318 at 3:17
}
