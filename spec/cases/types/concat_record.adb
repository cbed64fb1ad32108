record Point {
  public int x;
}

function show(Point p) -> string {
  return "point " + p;
  // expect error E0302 at 6:21
}
