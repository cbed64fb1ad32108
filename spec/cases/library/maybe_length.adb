// length() is not lifted over a maybe (Adama has no such overload): unwrap first.
function f(maybe<string> s) -> int {
  return s.length();
// expect error E0209 at 3:12
}
