procedure p() {
  int[] xs = [1, 2];
  xs[0] = 5;
  // expect error E0310 at 3:3
}
