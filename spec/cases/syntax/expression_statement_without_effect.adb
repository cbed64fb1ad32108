// An expression statement must do something: assign, call, ++ or --.
public int x;

#s {
  x + 1;
}
// expect error E0101 at 5:3
