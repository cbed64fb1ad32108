// bubble<policy> names policies: the document's, or in a record its own and the document's.
policy p { return true; }
bubble<p, q> k = 42;
record R {
  public int id;
  policy mine { return true; }
  bubble<mine, nope> b = id;
}
table<R> rs;
// expect error E0210 at 3:1
// expect error E0210 at 7:3
