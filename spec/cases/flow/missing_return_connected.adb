@connected {
  // expect error E0401 at 1:1
}
