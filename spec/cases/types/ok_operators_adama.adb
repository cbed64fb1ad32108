// Rows of Adama's operator table: arithmetic lifted over maybe<double>,
// string repetition, timespans scaled.
public double a = 20.0;
public formula half = a / 2;
public formula plus = 1 + (1 / 2);
public formula mixed = (a / 4) * 2 - 1;
function f(int n) -> string { return "ab" * n; }

test operators {
  assert (plus.getOrDefaultTo(0.0) == 1.5);
  assert (mixed.getOrDefaultTo(0.0) == 9.0);
  maybe<double> none = 1 / 0;
  assert (!(none + 1).has());
  assert (!(2.0 * (1.0 / 0)).has());
  assert (!(1 / (1 / 0)).has());
  assert (f(3) == "ababab" && 2 * "x" == "xx");
  timespan t = @timespan 10 sec;
  assert ((t * 3).seconds() == 30.0 && (0.5 * t).seconds() == 5.0);
}
