@static {
  maximum_histroy = 10;
  // expect error E0504 at 2:3
}
