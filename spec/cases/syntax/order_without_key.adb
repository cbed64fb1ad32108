// 'order' (with or without 'by') needs the field to sort by.
record R { public int a; }
table<R> t;

#s {
  list<R> sorted = iterate t order by;
}
// expect error E0101 at 6:38
