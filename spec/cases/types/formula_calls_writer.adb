public int count;

procedure bump() -> int {
  count += 1;
  return count;
}

public formula f = bump();
// expect error E0317 at 8:20
