// Adama's `rank x: score [threshold t]` (language.md 5.17): the items scoring at least t,
// highest first, ties in the order they came; without threshold every item is kept.
record R {
  public int id;
  public string name;
  public int score;
}
table<R> _rs;
public formula ranked = iterate _rs rank r: r.score * 2 threshold 4;
public formula all = (iterate _rs) rank r: -r.score;
function names(list<R> rs) -> string {
  string s = "";
  foreach (r in rs) {
    s = s + r.name;
  }
  return s;
}
test ranks {
  _rs <- {name: "a", score: 1};
  _rs <- {name: "b", score: 5};
  _rs <- {name: "c", score: 2};
  _rs <- {name: "d", score: 5};
  assert names(ranked) == "bdc";
  assert names(all) == "acbd";
  assert names(iterate _rs rank r: r.score threshold 9.5) == "";
}
