function f(int x) -> int {
  switch (x) {
    case "one":
      // expect error E0301 at 3:10
      return 1;
  }
  return 0;
}
