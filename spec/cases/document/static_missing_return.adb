@static {
  create {
    // expect error E0401 at 2:3
  }
}
