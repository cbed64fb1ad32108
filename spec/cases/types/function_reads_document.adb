public int bonus;

function with_bonus(int x) -> int {
  return x + bonus;
  // expect error E0318 at 4:14
}
