function f(int x) -> int {
  switch (x) {
    case 1:
      return 10;
    case 1:
      // expect error E0410 at 5:10
      return 20;
  }
  return 0;
}
