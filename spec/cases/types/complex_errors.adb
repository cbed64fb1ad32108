// A complex number is used whole: no fields, no ordering, no `%`; a maybe from `/` is unwrapped.
public int x;

function parts(complex z) -> double {
  return z.r;
  // expect error E0308 at 5:12
}

function order(complex a, complex b) -> bool {
  return a < b;
  // expect error E0302 at 10:10
}

function rest(complex a) -> complex {
  complex m = a % 2;
  // expect error E0302 at 15:15
  complex q = a / 2;
  // expect error E0301 at 17:15
  string s = "z = " + a;
  // expect error E0302 at 19:23
  return m;
}
