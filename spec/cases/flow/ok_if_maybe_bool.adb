// `if (m)` on a maybe<bool> is true only when present and true (language.md 6.4);
// sum() is Adama's maybe, empty for no items (5.20).
record Vote { public int id; public int weight; }
table<Vote> _votes;
public maybe<bool> approved;
public formula weight = (iterate _votes).weight.sum();
function said(maybe<bool> m) -> int {
  if (m) { return 1; } else { return 0; }
}
test maybe_bool_condition {
  assert said(approved) == 0;
  approved = false;
  assert said(approved) == 0;
  approved = true;
  assert said(approved) == 1;
  maybe<bool> none;
  int n = 0;
  if (none) { n = 1; } else if (approved) { n = 2; }
  assert n == 2;
}
test sum_is_a_maybe {
  assert !weight.has();
  _votes <- {weight: 2};
  _votes <- {weight: 5};
  if (weight as w) { assert w == 7; } else { assert false; }
  assert (iterate _votes where weight > 9).weight.sum().getOrDefaultTo(-1) == -1;
}
