message Point {
  int x;
  int y;
}

function origin() -> Point {
  return {x: 0, x: 1};
  // expect error E0212 at 7:17
}
