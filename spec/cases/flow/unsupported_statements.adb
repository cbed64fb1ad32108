// Adama statements advm does not run yet: parsed, E0901 at each.
#a {
  preempt #b;
}
#b {
  block;
}
test t {
  @step;
  @aborts { abort; }
  assert (true);
}
// expect error E0901 at 3:3
// expect error E0901 at 6:3
// expect error E0901 at 9:3
// expect error E0901 at 10:3
