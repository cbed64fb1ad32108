public int x;
public formula next = x + 1;

procedure p() {
  next++;
  // expect error E0310 at 5:3
}
