// An exponent needs digits.
public double big = 1e;
// expect error E0104 at 2:21
