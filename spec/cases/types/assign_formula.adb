public int x;
public formula twice = x * 2;

procedure oops() {
  twice = 4;
  // expect error E0310 at 5:3
}
