// `block;` and `preempt` act on a state block that waits: only #state blocks may use them.
message M { int n; }
public int x;

channel poke(M m) {
  block;
  // expect error E0409 at 6:3
}

procedure later() {
  preempt #s;
  // expect error E0409 at 11:3
}

@construct {
  block;
  // expect error E0409 at 16:3
}

#s {
  x = 1;
}
