record R { public int id; public int score; }
table<R> rows;
// order_dyn takes its keys as a string.
public formula f = iterate rows order_dyn 3;
// expect error E0301 at 4:43
