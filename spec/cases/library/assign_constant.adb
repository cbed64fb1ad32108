// Math.PI is a constant of the namespace, not a field.
procedure p() {
  Math.PI = 3.0;
// expect error E0310 at 3:8
}
