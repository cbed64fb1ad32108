// 'return' is reserved: it cannot name a local variable.
public int x;

#s {
  int return = 5;
  x = 1;
}
// expect error E0105 at 5:7
