procedure p() {
  int z = "seven";
  // expect error E0301 at 2:11
}
