// Range chains (language.md 5.3): `a < b < c` is `a < b && b < c`, of any length and mix of < <= > >=.
test chains {
  int x = 2;
  assert 1 < x < 3;
  assert !(3 < x < 5);
  assert 0 <= x <= 2 < 9;
  assert 5 > x >= 2;
  bool b = 1 < x;
  assert b;
}
