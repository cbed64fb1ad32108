test t {
  assert (1);
  // expect error E0311 at 2:11
}
