// Ingestion checks every field both sides have (language.md 6.3).
message M { string age; }
record R { public int age; }
public R r;
procedure p(M m) {
  r <- m;
}
// expect error E0301 at 6:8
