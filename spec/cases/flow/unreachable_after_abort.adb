message M {
  int n;
}

public int total;

channel c(M m) {
  abort;
  total += m.n;
  // expect error E0406 at 9:3
}
