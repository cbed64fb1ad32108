// Widening, arithmetic results, string concatenation and comparisons.
enum Color { Red, Green }

function widen(int i) -> double {
  long l = i;
  double d = l;
  return d + 0.5;
}

function arithmetic(int a, int b, long c, double d) -> double {
  int sum = a + b * 2 - 1;
  long mixed = a + c;
  maybe<double> ratio = a / b;
  maybe<int> rest = a % b;
  maybe<long> wide_rest = c % a;
  double scaled = -d * 2;
  if (ratio as r) {
    return r + scaled + mixed + sum;
  }
  if (rest as m) {
    return m;
  }
  return scaled;
}

function describe(string name, int n, double d, bool b, Color c, principal p) -> string {
  return name + ": " + n + " / " + d + " / " + b + " / " + c + " / " + p;
}

function compare(int a, long b, double c, string s, Color k, date x, date y) -> bool {
  return a < b && b <= c && s > "a" && k >= Color::Red && x < y && a == c && s != "b";
}

function logic(bool p, bool q) -> bool {
  return p ^^ q || !p && q;
}

function pick(bool b, int x, maybe<int> m) -> maybe<int> {
  return b ? x : m;
}

function spans(timespan a, timespan b) -> timespan {
  return a + b;
}
