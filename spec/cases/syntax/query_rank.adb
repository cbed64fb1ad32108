// Not taken from Adama yet (language.md 12, decision 51): `rank` in queries.
record R { public int id; public int n; }
table<R> t;
formula f = iterate t rank r: r.n;
// expect error E0101 at 4:23
