// Table-typed parameters (Adama's): the caller's table itself; functions read it,
// procedures may also insert into it and delete from it.
record Item { public int id; public int qty; }
table<Item> shelf;
table<Item> cart;
procedure restock(table<Item> t, int n) {
  t <- {qty: n};
}
function total(table<Item> t) -> int {
  return (iterate t).qty.sum().getOrDefaultTo(0);
}
procedure empty(table<Item> t) {
  (iterate t).delete();
}
test tables {
  restock(shelf, 2);
  restock(shelf, 3);
  restock(cart, 10);
  assert (total(shelf) == 5 && total(cart) == 10);
  empty(shelf);
  assert (shelf.size() == 0 && cart.size() == 1);
}
