// 'order' must be followed by 'by'.
record R { public int a; }
table<R> t;

#s {
  list<R> sorted = iterate t order a;
}
// expect error E0101 at 6:36
