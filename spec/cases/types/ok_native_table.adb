// Adama's native tables (language.md 3.7.1): table<M> of a message M is a local or a parameter;
// `t <- v` inserts copies (one value, an object, or a list of them), and it reads as a list<M>.
message Score {
  string who;
  int points;
}

function best(table<Score> t) -> int {
  int top = 0;
  foreach (s in t) {
    if (s.points > top) {
      top = s.points;
    }
  }
  return top;
}

function add_one(table<Score> t) -> int {
  t <- {who: "x", points: 1};
  return t.size();
}

test native_tables {
  table<Score> scores;
  assert scores.size() == 0;
  scores <- {who: "a", points: 3};
  list<Score> before = iterate scores;
  scores <- [{who: "b", points: 7}, {who: "c", points: 5}];
  Score s;
  s.who = "d";
  s.points = 1;
  scores <- s;
  s.points = 100;
  assert scores.size() == 4;
  assert before.size() == 1;
  assert best(scores) == 7;
  assert add_one(scores) == 5;
  assert scores.size() == 4;
  assert (iterate scores where points > 4 order by points desc)[0].getOrDefaultTo(s).who == "b";
  assert (iterate scores where who == "d")[0].getOrDefaultTo(s).points == 1;
}
