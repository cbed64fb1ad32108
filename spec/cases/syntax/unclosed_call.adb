// A call's argument list must be closed.
public int total;

procedure add(int n) {
  total += n;
}

#tick {
  add(1;
}
// expect error E0101 at 9:8
