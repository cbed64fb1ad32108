// Vectors and matrices (language.md 3.12.1): + and - of one type, * by a number, matrix * vector
// and matrix * matrix of one size; nothing else (no /, no mixed sizes).
public vec2 a;
public vec3 b;
public matrix2 m;
public formula f1 = a + b;
public formula f2 = a / 2;
public formula f3 = m * b;
public formula f4 = a * a;
public formula f5 = !a;
// expect error E0302 at 6:21
// expect error E0302 at 7:21
// expect error E0302 at 8:21
// expect error E0302 at 9:21
// expect error E0302 at 10:21
