message Point {
  int x;
}

table<Point> _points;
// expect error E0507 at 5:7
