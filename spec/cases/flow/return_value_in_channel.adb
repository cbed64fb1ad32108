message Ping {
  int n;
}

channel ping(Ping p) {
  return p.n;
  // expect error E0402 at 6:10
}
