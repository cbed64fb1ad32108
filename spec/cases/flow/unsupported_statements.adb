// Adama statements advm does not run yet: parsed, E0901 at each.
#a {
  preempt #b;
}
#b {
  block;
}
// expect error E0901 at 3:3
// expect error E0901 at 6:3
