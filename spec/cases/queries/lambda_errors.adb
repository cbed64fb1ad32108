// `@lambda x: expr` (language.md 5.17): x is a new local; the body is checked with x the item.
record R { public int id; public int score; }
table<R> t;
procedure p() {
  int r = 0;
  list<int> a = iterate t map @lambda r: r.score;
  list<int> b = iterate t map @lambda x: x.nope;
  list<int> c = iterate t map @lambda x: x.score + "s";
}
// expect error E0211 at 6:31
// expect error E0203 at 7:44
// expect error E0301 at 8:17
