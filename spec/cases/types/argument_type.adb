function twice(int x) -> int {
  return x * 2;
}

function go() -> int {
  return twice("two");
  // expect error E0301 at 6:16
}
