// Adama's holder<M> (language.md 3.9.1): a document or record field holding a message, read, assigned
// and changed field by field; a local or parameter holds the message itself.
public holder<int> a;
public holder<Nope> b;
message M { int x; }
public holder<M, M> c;
procedure p(holder<M> h) {}
public holder<M> d;
public M e;
procedure q() { d.write(1).x = 2; e.write().x = 3; }
// expect error E0309 at 3:15
// expect error E0202 at 4:15
// expect error E0309 at 6:8
// expect error E0309 at 7:13
// expect error E0304 at 10:17
// expect error E0209 at 10:37
