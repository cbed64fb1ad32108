public int total;

function total() -> int {
  // expect error E0204 at 3:10
  return 0;
}
