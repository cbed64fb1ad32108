// Vectors and matrices (language.md 3.12.1): @vec[...] and @matrix[...] literals, fields, + - of one
// type, scaling by a number, matrix * vector and matrix * matrix, negation and ==
public vec2 v = @vec[1.0, 2];
public matrix2 rot;
public vec3 w;
test vectors {
  vec2 a = @vec[1, 2];
  vec2 b = @vec[3.5, -1];
  vec2 c = a + b * 2;
  assert c.x == 8.0;
  assert c.y == 0.0;
  assert (a - b).x == -2.5;
  assert -a == @vec[-1, -2];
  assert 3 * a == @vec[3, 6];
  matrix2 m = @matrix[0, -1, 1, 0];
  vec2 r = m * a;
  assert r == @vec[-2, 1];
  matrix2 i = m * m * m * m;
  assert i == @matrix[1, 0, 0, 1];
  assert (i + m - m) == i;
  vec4 q = @vec[1, 2, 3, 4];
  assert q.w == 4.0;
  matrix3 s = @matrix[2, 0, 0, 0, 2, 0, 0, 0, 2];
  vec3 p = s * @vec[1, 2, 3];
  assert p.z == 6.0;
  v = c;
  assert v.x == 8.0;
}
