@static {
  frobnicate = 1;
  // expect error E0504 at 2:3
}
