function f(string s) -> int {
  return s.size();
  // expect error E0209 at 2:12
}
