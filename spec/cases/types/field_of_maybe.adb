message Point {
  int x;
}

function f(maybe<Point> p) -> int {
  return p.x;
  // expect error E0308 at 6:12
}
