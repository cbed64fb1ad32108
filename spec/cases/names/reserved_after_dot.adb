// After a dot any word is a member name, as in Adama (language.md 2.2): `m.class` asks for a
// field, which M does not have (a declaration could not name one `class`).
message M { int n; }
function f(M m) -> int {
  return m.class;
}
// expect error E0203 at 5:12
