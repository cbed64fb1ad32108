// A namespace function that Adama's library does not have.
function f(double x) -> double {
  return Math.sine(x);
// expect error E0205 at 3:15
}
