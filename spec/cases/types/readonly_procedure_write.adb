public int count;

procedure peek() -> int readonly {
  count = 1;
  // expect error E0317 at 4:3
  return count;
}
