// A table of messages lives in code (locals, parameters); a field's table holds records.
message Score {
  int points;
}
record R {
  public int id;
  table<Score> inner;
  // expect error E0507 at 7:9
}
public table<Score> scores;
// expect error E0507 at 10:14

function f() -> int {
  table<Score> t;
  t <- {points: 1} as sid;
  // expect error E0313 at 15:3
  t <- {points: "x"};
  // expect error E0301 at 17:17
  return t.size();
}
