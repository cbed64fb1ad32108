// Adama's complex numbers (language.md 3.12): @i, + - * / with numbers on either side, a maybe
// for a quotient (empty for a zero divisor), -z, ==, compound assignment; JSON {"r": .., "i": ..}.
public formula unit = 1 + 0 * @i;
public formula diagonal = 0.707 + 0.707 * @i;
public formula inverse = 1.0 / diagonal;
public complex kept;

message Point {
  complex at;
}

channel place(Point p) {
  kept = p.at * @i;
}


test complex_math {
  complex a = 3 + 4 * @i;
  complex b = 1 - 2 * @i;
  assert a + b == 4 + 2 * @i;
  assert a - b == 2 + 6 * @i;
  assert a * b == 11 - 2 * @i;
  if (a / b as q) {
    assert q == -1 + 2 * @i;
  } else {
    assert false;
  }
  complex none;
  assert !(a / none).has();
  assert -a == -3 - 4 * @i;
  complex c = 2;
  c *= @i;
  assert c == 2 * @i;
  c -= 1.5;
  c += 1L;
  assert c == -0.5 + 2 * @i;
  kept = c;
  assert kept != a;
  maybe<complex> m = a;
  if (m as got) {
    assert got == a;
  }
}
