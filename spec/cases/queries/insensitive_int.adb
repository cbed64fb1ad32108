record R { public int id; public int score; }
table<R> rows;
// `insensitive` orders strings only.
public formula f = iterate rows order by score insensitive;
// expect error E0302 at 4:42
