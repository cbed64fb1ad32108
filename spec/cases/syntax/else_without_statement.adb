// 'else' must be followed by a statement.
public int x;

#s {
  if (x > 0) {
    x = 0;
  } else
}
// expect error E0101 at 8:1
