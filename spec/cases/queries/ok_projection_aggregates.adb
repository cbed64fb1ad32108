// Issue 16's aggregates on a projected field of a query (language.md 5.17, 9): sum average median
// percentile minimum maximum range stddev variance, each a maybe, empty for no rows.
record Score {
  public int id;
  public int points;
  public double time;
}
table<Score> scores;
test aggregates {
  scores <- {points: 2, time: 1.0};
  scores <- {points: 4, time: 3.0};
  scores <- {points: 9, time: 2.0};
  assert (iterate scores).points.sum().getOrDefaultTo(0) == 15;
  assert (iterate scores).points.average().getOrDefaultTo(0.0) == 5.0;
  assert (iterate scores).points.median().getOrDefaultTo(0) == 4;
  assert (iterate scores).points.percentile(0.0).getOrDefaultTo(-1) == 2;
  assert (iterate scores).points.minimum().getOrDefaultTo(0) == 2 && (iterate scores).points.maximum().getOrDefaultTo(0) == 9;
  assert (iterate scores).points.range().getOrDefaultTo(0) == 7;
  assert (iterate scores where points > 3).time.range().getOrDefaultTo(0.0) == 1.0;
  assert (iterate scores).time.variance().getOrDefaultTo(0.0) > 0.66 && (iterate scores).time.stddev().getOrDefaultTo(0.0) < 0.82;
  assert !(iterate scores where points > 100).points.stddev().has();
}
