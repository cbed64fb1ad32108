record Item {
  public int id;
  public int qty;
}

table<Item> _items;

procedure add() {
  _items <- {qty: "three"};
  // expect error E0301 at 9:19
}
