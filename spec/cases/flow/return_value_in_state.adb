#s {
  return 1;
  // expect error E0402 at 2:10
}
