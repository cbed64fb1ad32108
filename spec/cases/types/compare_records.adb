record Point {
  public int x;
}

function same(Point a, Point b) -> bool {
  return a == b;
  // expect error E0302 at 6:10
}
