// foreach over a map walks its entries (key, value) in insertion order;
// insert puts the entries of another map in, remove takes one out.
public map<string, int> scores;
record P { public int x; }
public map<int, P> pts;

procedure fill() {
  scores["a"] = 1;
  scores["b"] = 2;
}

test map_walk {
  fill();
  int total = 0;
  string keys = "";
  foreach (kv in scores) {
    total += kv.value;
    keys += kv.key;
  }
  assert (total == 3 && keys == "ab");
  map<string, int> more;
  more["c"] = 3;
  more["a"] = 10;
  scores.insert(more);
  assert (scores.size() == 3);
  if (scores["a"] as a) { assert (a == 10); }
  if (scores.remove("b") as old) { assert (old == 2); }
  assert (scores.size() == 2);
  assert (scores.insert(more).size() == 2);
}
