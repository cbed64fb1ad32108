// @construct may be repeated (every one runs, in order), but they all take one message (or none):
// advm does not merge two message types into one, as Adama's unified type does.
message A { int x; }
message B { string y; }
@construct (A a) { }
@construct { }
@construct (B b) {
  // expect error E0502 at 7:13
}
