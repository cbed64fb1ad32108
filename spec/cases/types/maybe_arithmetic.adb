function add(maybe<int> m) -> int {
  return m + 1;
  // expect error E0302 at 2:10
}
