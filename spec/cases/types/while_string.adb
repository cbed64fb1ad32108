procedure p(string s) {
  while (s) {
    // expect error E0311 at 2:10
  }
}
