procedure p() {
  return 5;
  // expect error E0405 at 2:10
}
