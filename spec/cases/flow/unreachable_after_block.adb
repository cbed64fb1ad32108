// `block;` ends the block, as `abort` does: what follows can never run.
public int x;

#s {
  block;
  x = 1;
  // expect error E0406 at 6:3
}
