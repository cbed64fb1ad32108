// An invented document is made by a connection, which brings no argument.
message M { int x; }
@static {
  invent { return true; }
}
@construct (M m) { }
// expect error E0502 at 6:1
