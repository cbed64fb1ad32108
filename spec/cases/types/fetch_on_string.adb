#s {
  string s = "x";
  let f = s.fetch(@no_one);
  // expect error E0315 at 3:13
}
