procedure p() {
  int x = {a: 1};
  // expect error E0313 at 2:11
}
