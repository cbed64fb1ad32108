// Adama's library: Math beyond arithmetic, String helpers, Statistics,
// Principal; namespace calls and the same functions as extension methods of
// their first argument (`x.cos()` is `Math.cos(x)`), and built-in methods
// through their namespace (`String.trim(s)` is `s.trim()`).
function f(double x) -> double { return Math.sin(x) + x.cos() + Math.PI; }

test math {
  assert (Math.near(Math.sin(0.0), 0.0));
  assert ((0.0).cos() == 1.0);
  assert (Math.near(Math.atan2(1.0, 1.0), Math.PI * 0.25));
  assert (Math.near(Math.hypot(3.0, 4.0), 5.0));
  assert (Math.near(Math.degrees(Math.PI), 180.0));
  assert (Math.sign(-3) == -1);
  assert ((-2.5).sign() == -1);
  assert (Math.sign(0L) == 0);
  assert (Math.floor(7.3, 0.5) == 7.0);
  assert (Math.ceil(7.3, 0.5) == 7.5);
  assert (Math.near(Math.round(2.26, 0.1), 2.3));
  assert (Math.floorDiv(-7, 2) == -4);
  assert (Math.floorMod(-7, 2) == 1);
  if (Math.intOf(3.9) as i) { assert (i == 3); } else { assert (false); }
  assert (!Math.intOf(1e12).has());
  assert (Math.longOf(1e12).getOrDefaultTo(0L) == 1000000000000L);
  assert (Math.clampIntOf(1e12) == 2147483647);
  assert (Math.xor(true, false) && !true.xor(true));
  assert (Math.isNaN(Math.sqrt(-1.0)));
  assert (Math.isInfinite(Math.log(0.0)));
  assert (!Math.valid(Math.log(0.0)).has());
  assert (Math.near(f(0.0), 1.0 + Math.PI));
  assert (Math.near(Math.E.log(), 1.0));
}

test strings {
  list<string> xs = "a,b,c".split(",");
  assert (xs.join("-") == "a-b-c");
  assert (String.join(xs, "+") == "a+b+c");
  assert (xs.concat() == "abc");
  assert (String.trim("  x ") == "x");
  assert (String.upper("q") == "Q");
  assert ("hello".replaceAll("l", "L") == "heLLo");
  assert ("hello".removeAll("l") == "heo");
  assert (String.to_roman(1994) == "MCMXCIV");
  assert ((2024).to_roman() == "MMXXIV");
  if ("42".intOf() as n) { assert (n == 42); } else { assert (false); }
  assert (!String.intOf("4x").has());
  assert (!String.intOf("99999999999").has());
  assert (String.longOf("-99999999999").getOrDefaultTo(0L) == -99999999999L);
  assert (String.doubleOf("-.5").getOrDefaultTo(0.0) == -0.5);
  assert ("abc".codepoints().size() == 3);
  assert ("b".compare("a") > 0 && String.compare("a", "a") == 0);
  assert (String.codepointAt("A", 0).getOrDefaultTo(0) == 65);
  assert (!"A".codepointAt(1).has());
}

test stats {
  list<int> xs = [3, 1, 4, 1, 5].reverse();
  assert (Statistics.sum(xs).getOrDefaultTo(0) == 14);
  assert (xs.median().getOrDefaultTo(0) == 3);
  assert (xs.maximum().getOrDefaultTo(0) == 5);
  assert (xs.minimum().getOrDefaultTo(0) == 1);
  assert (xs.average().getOrDefaultTo(0.0) == 2.8);
  assert (Statistics.percentile(xs, 0.5).getOrDefaultTo(0) == 3);
  list<double> ds = [1.0, 2.0].reverse();
  assert (ds.median().getOrDefaultTo(0.0) == 1.5);
  list<int> none = xs.reverse().toArray().reverse();
  assert (Statistics.sum(xs) == Statistics.sum(none));
  // issue 16's aggregates: variance (of the population), stddev, range
  list<double> spread = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0].reverse();
  assert (spread.variance().getOrDefaultTo(0.0) == 4.0 && spread.stddev().getOrDefaultTo(0.0) == 2.0);
  assert (xs.range().getOrDefaultTo(0) == 4 && ds.range().getOrDefaultTo(0.0) == 1.0);
  assert (Statistics.variance(xs).has() && !xs.skip(9).stddev().has() && !xs.skip(9).range().has());
}

test people {
  principal p = @no_one;
  assert (!p.isOverlord());
  assert (!Principal.isAdamaHost(p));
  assert (Principal.agent(p) == p.agent());
}

test lists {
  list<int> xs = [1, 2, 3, 4].reverse().reverse();
  assert (xs.skip(1).size() == 3 && xs.skip(9).size() == 0 && xs.skip(-1).size() == 4);
  assert (xs.drop(1).sum() == 6 && xs.drop(9).size() == 0);
}
