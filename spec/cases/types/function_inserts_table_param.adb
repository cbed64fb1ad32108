// A table is document state even when passed as a parameter: a function cannot insert.
record Item { public int id; public int qty; }
function f(table<Item> t) -> int {
  t <- {qty: 1};
  return 0;
}
// expect error E0318 at 4:3
