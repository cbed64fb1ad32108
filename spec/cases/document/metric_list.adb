// A metric is a number, bool or string.
record R { public int id; }
table<R> t;
metric rows = iterate t;
// expect error E0301 at 4:15
