@static {
  maximum_history = 10;
  maximum_history = 20;
  // expect error E0204 at 3:3
}
