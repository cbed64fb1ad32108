// Adama's text (language.md 3.13.1): a field's type, set from a string, read with get(), edited
// with append(int, dynamic) where the document may be written.
public text body;
message Edit { int seq; dynamic changes; }
procedure p(text t) {}
function f() -> bool { return body.append(0, Dynamic.dyn(0)); }
public formula g = body.append(0, Dynamic.dyn(0));
channel c(Edit e) {
  text local;
  body.append("zero", e.changes);
  body = 3;
  bool ok = body.get();
}
// expect error E0309 at 5:13
// expect error E0318 at 6:31
// expect error E0318 at 6:31
// expect error E0317 at 7:20
// expect error E0309 at 9:3
// expect error E0301 at 10:15
// expect error E0301 at 11:10
// expect error E0301 at 12:13
