@static {
  maximum_history = 0;
  // expect error E0504 at 2:21
}
