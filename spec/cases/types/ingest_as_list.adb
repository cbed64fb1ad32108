record Item {
  public int id;
  public string name;
}

table<Item> _items;

procedure add() {
  _items <- [{name: "a"}, {name: "b"}] as first;
  // expect error E0313 at 9:13
}
