// Adama's maybe overloads: a library function or method given a maybe where
// it takes a plain value gives a maybe, empty when the argument is.
public double total = 10.0;
public int count = 3;
public formula mean = (total / count).roundTo(2);
public formula root = Math.sqrt(total / count);
test lifted {
  assert (mean.getOrDefaultTo(0.0) == 3.33);
  maybe<double> none = total / 0;
  assert (!none.roundTo(1).has() && !Math.sin(none).has());
  assert (Math.near(root.getOrDefaultTo(0.0), 1.8257418583505538));
  maybe<string> s = @maybe("Hi");
  assert (s.upper().getOrDefaultTo("") == "HI");
  maybe<string> n;
  assert (!n.trim().has());
  assert (!Math.max(none, 1.0).has() && Math.max(@maybe(2.0), 1.0).getOrDefaultTo(0.0) == 2.0);
}
