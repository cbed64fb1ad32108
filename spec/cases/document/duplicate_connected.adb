// @connected may be repeated (every one runs; the viewer is let in when any returns true), and
// each one takes only the viewer.
@connected {
  return true;
}

@connected (int who) {
  // expect error E0502 at 7:13
  return false;
}
