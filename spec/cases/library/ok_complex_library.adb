// Adama's complex library (language.md 3.12): length and abs (the modulus), conj, near, as Math
// functions and as methods of a complex, and on maybes.
public double len;
public bool close;
public complex c;
test complex_library {
  complex z = 3 + 4 * @i;
  assert Math.length(z) == 5;
  assert z.length() == 5;
  assert Math.abs(z) == 5;
  assert Math.conj(z) == 3 - 4 * @i;
  assert z.conj() == 3 - 4 * @i;
  assert Math.near(z, 3 + 4.00000001 * @i);
  assert !Math.near(z, 3);
  assert Math.near(3 + 0 * @i, 3);
  assert Math.abs(-2) == 2;
  maybe<complex> mz = z;
  assert Math.conj(mz) == 3 - 4 * @i;
  len = z.length();
  c = z.conj();
  z = 1;
  assert c == 3 - 4 * @i;
}
