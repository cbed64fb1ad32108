// @self: the record (or message) whose method runs, as in Adama.
record Item {
  public int id;
  public int qty;
  method twin() -> int { return @self.qty * 2; }
  method same(Item other) -> bool { return @self.qty == other.qty; }
}
table<Item> items;
message Box { int w; method area() -> int { return @self.w * @self.w; } }
test self_ref {
  items <- {qty: 3};
  foreach (it in iterate items) {
    assert (it.twin() == 6);
    assert (it.same(it));
  }
  Box b = {w: 4};
  assert (b.area() == 16);
}
