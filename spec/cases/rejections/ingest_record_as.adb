// `as` names a new row's id: ingesting into a record makes none (language.md 6.3).
message M { int n; }
record R { public int n; }
public R r;
procedure p(M m) {
  r <- m as x;
}
// expect error E0313 at 6:3
