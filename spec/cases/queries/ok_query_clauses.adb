// Adama query clauses: where_as, order without by, insensitive, unique, map,
// reduce, materialize, clauses after any list expression, in any order.
record Player { public int id; public string name; public int score; public string team; }
table<Player> players;

function total(list<Player> ps) -> int {
  int n = 0;
  foreach (p in ps) { n += p.score; }
  return n;
}
function name_of(Player p) -> string { return p.name; }
function doubled(int x) -> int { return x * 2; }

procedure fill() {
  players <- {name: "bob", score: 3, team: "red"};
  players <- {name: "Alice", score: 5, team: "blue"};
  players <- {name: "carol", score: 4, team: "red"};
  players <- {name: "Bob", score: 1, team: "blue"};
}

test queries {
  fill();
  list<Player> hi = iterate players where_as p: p.score > 2;
  assert (hi.size() == 3);
  list<Player> sorted = iterate players order score desc;
  if (sorted[0] as first) { assert (first.name == "Alice"); }
  list<Player> byname = iterate players order by name asc insensitive;
  if (byname[0] as a) { assert (a.name == "Alice"); }
  if (byname[3] as c) { assert (c.name == "carol"); }
  list<Player> teams = iterate players unique first team;
  assert (teams.size() == 2);
  list<Player> lastteams = iterate players unique last team;
  if (lastteams[0] as l) { assert (l.name == "carol"); }
  list<string> names = iterate players map name_of;
  assert (names.join(",") == "bob,Alice,carol,Bob");
  list<int> scores = (iterate players).score;
  assert (scores.median().getOrDefaultTo(0) == 3 || scores.median().getOrDefaultTo(0) == 2);
  list<int> big = scores where_as s: s >= 3;
  assert (big.size() == 3);
  list<int> twice = scores map doubled limit 2;
  assert (twice.sum() == 16);
  map<string, int> per_team = iterate players reduce on team via total;
  if (per_team["red"] as r) { assert (r == 7); } else { assert (false); }
  map<string, list<Player>> groups = iterate players reduce team;
  assert (groups.size() == 2);
  list<Player> chained = (iterate players) where score > 1 order by score limit 2 offset 1;
  if (chained[0] as x) { assert (x.score == 4); }
  list<Player> m = iterate players limit 3 where score > 3 materialize;
  assert (m.size() == 2);
  list<int> u = [1, 2, 2, 3, 1].reverse() unique;
  assert (u.size() == 3);
}

test dynamic_order {
  fill();
  list<Player> a = iterate players order_dyn "team,-score";
  if (a[0] as first) { assert (first.name == "Alice"); }
  if (a[2] as third) { assert (third.name == "carol"); }
  string spec = "-score";
  list<Player> b = iterate players order_dyn spec limit 1;
  if (b[0] as top) { assert (top.score == 5); }
  list<Player> c = iterate players order_dyn "nothing, +score";
  if (c[0] as low) { assert (low.score == 1); }
}
