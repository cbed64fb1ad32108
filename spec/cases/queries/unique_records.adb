record R { public int id; public int score; }
table<R> rows;
// `unique` without a key compares whole items: records need a key field.
public formula f = iterate rows unique;
// expect error E0302 at 4:33
