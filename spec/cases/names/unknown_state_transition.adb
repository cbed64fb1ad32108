@construct {
  transition #nowhere;
  // expect error E0206 at 2:14
}
