function square(int x) -> int {
  return x * x;
}

function broken() -> int {
  return square(1, 2);
  // expect error E0304 at 6:10
}
