// complex numbers, tuples and json in records, tables, lists, maps and arrays (language.md 3.11-3.13);
// a number compares with a complex as x + 0 * @i.
record R {
  public int id;
  public complex z;
  public tuple<int, string> t;
  public json j;
}
table<R> rs;
public formula zs = (iterate rs).z;
test mixes {
  rs <- {z: 1 + 2 * @i, t: (1, "a")};
  rs <- {z: 3, t: (2, "b")};
  list<complex> all = (iterate rs).z;
  assert all.size() == 2;
  map<string, complex> m;
  m["a"] = @i;
  if (m["a"] as got) {
    assert got == @i;
  }
  maybe<complex> mz = 2 * @i;
  assert mz == 2 * @i;
  list<tuple<int, string>> ts = (iterate rs).t;
  assert ts.size() == 2;
  complex[] arr = [1 + @i, @i];
  assert arr.size() == 2;
  foreach (r in iterate rs where z == 3) {
    r.z *= 2;
    r.t = (r.t.first + 1, r.t.second + "!");
  }
  assert (iterate rs where z == 6).size() == 1;
  assert (iterate rs where t.second == "b!").size() == 1;
}
