// Bulk assignment evaluates its right side once per row, as Adama does (language.md 5.19),
// and a record method that returns nothing is called on every row of a list.
record Seat {
  public int id;
  public int number;
  public string tag;
  public principal owner;
  public bool gone;
  method discard() { gone = true; }
  method mark(string t) { tag = tag + t; }
}
table<Seat> _seats;
public formula numbers = (iterate _seats order by id).number;
procedure fill() {
  _seats <- {owner: @no_one};
  _seats <- {owner: @no_one};
  _seats <- {owner: @no_one};
}
test numbers_rows_in_order {
  fill();
  int k = 0;
  (iterate _seats order by id desc).number = k++;
  assert k == 3;
  list<int> ns = (iterate _seats order by id).number;
  assert ns[0] == 2;
  assert ns[1] == 1;
  assert ns[2] == 0;
  (iterate _seats).number += k++;
  assert k == 6;
  ns = (iterate _seats order by id).number;
  assert ns[0] == 5;
  assert ns[1] == 5;
  assert ns[2] == 5;
}
test empty_list_evaluates_nothing {
  int k = 0;
  (iterate _seats).number = k++;
  assert k == 0;
}
test method_on_every_row {
  fill();
  (iterate _seats where id < 3).discard();
  assert (iterate _seats where gone).size() == 2;
  int n = 0;
  (iterate _seats).mark("x" + n++);
  assert n == 3;
  list<string> tags = (iterate _seats order by id).tag;
  assert tags[0] == "x0";
  assert tags[2] == "x2";
}
