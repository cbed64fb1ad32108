// Adama's tuples (language.md 3.11): `(a, b, c)` is the object {first: a, second: b, third: c};
// `tuple<A, B>` is a message with fields first and second; equal tuple types are one type.
public tuple<int, string> latest;
public int total;

function swap(tuple<int, string> t) -> tuple<string, int> {
  return (t.second, t.first);
}

function sum3(tuple<int, int, int> t) -> int {
  return t.first + t.second + t.third;
}

message Pick { int n; string name; }

channel pick(Pick p) {
  latest = (p.n, p.name);
  total += sum3((p.n, p.n, 1));
}

test tuples {
  let k = (1, "two", 3.5);
  assert k.first == 1;
  assert k.second == "two";
  assert k.third == 3.5;
  tuple<int, string> t = (7, "seven");
  tuple<string, int> s = swap(t);
  assert s.first == "seven";
  assert s.second == 7;
  tuple<string, int> again = swap((s.second, s.first));
  assert again.second == 7;
  let many = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
  assert many.tenth == 10;
  assert many.pos_11 == 11;
  latest = t;
  assert latest.second == "seven";
  assert sum3((1, 2, 3)) == 6;
}
