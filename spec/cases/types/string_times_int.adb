// A string repeats by an int (`s * 2`, as in Adama), not by a double.
function bad(string s) -> string {
  return s * 2.5;
  // expect error E0302 at 3:10
}
