function bad(string s) -> string {
  return s * 2;
  // expect error E0302 at 2:10
}
