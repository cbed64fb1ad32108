@connected {
  return 1;
  // expect error E0405 at 2:10
}
