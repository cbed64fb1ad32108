procedure p() {
  int x = 1;
  if (x > 0) {
    int x = 2;
    // expect error E0211 at 4:9
  }
}
