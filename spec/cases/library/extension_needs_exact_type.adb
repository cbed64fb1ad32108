// An extension method belongs to its first parameter's type exactly: Math.sin
// takes a double, so an int has no .sin() (Math.sin(n) widens, as a call does).
function f(int n) -> double {
  double ok = Math.sin(n);
  return n.sin();
// expect error E0209 at 5:12
}
