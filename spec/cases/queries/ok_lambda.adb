// Adama's `@lambda x: expr` as a query's `map` and `reduce ... via` function (language.md 5.17).
record R { public int id; public int score; public string team; }
table<R> t;
function total(list<R> rs) -> int { return rs.size(); }
test lambdas {
  t <- {score: 3, team: "a"}; t <- {score: 1, team: "b"}; t <- {score: 5, team: "a"};
  list<int> doubled = iterate t map @lambda r: r.score * 2;
  assert doubled.size() == 3 && doubled[0].getOrDefaultTo(0) == 6;
  list<string> names = iterate t where score > 1 map @lambda r: r.team + "!";
  assert names[1].getOrDefaultTo("") == "a!";
  map<string, int> sums = iterate t reduce on team via @lambda g: g.size() * 10;
  assert sums["a"].getOrDefaultTo(0) == 20 && sums["b"].getOrDefaultTo(0) == 10;
  map<string, int> counts = iterate t reduce team via total;
  assert counts["a"].getOrDefaultTo(0) == 2;
  list<int> xs = [1, 2, 3];
  list<int> sq = xs map @lambda x: x * x;
  assert sq[2].getOrDefaultTo(0) == 9;
  int k = 5;
  list<int> shifted = xs map @lambda x: x + k;
  assert shifted[0].getOrDefaultTo(0) == 6;
}
