message Point {
  int x;
}

procedure p(Point[] ps) {
  ps.x = 0;
  // expect error E0310 at 6:6
}
