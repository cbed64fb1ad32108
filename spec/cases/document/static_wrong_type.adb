@static {
  timezone = 5;
  // expect error E0504 at 2:14
}
