function f(int x) -> int {
  switch (x) {
    case 1:
      continue;
      // expect error E0404 at 4:7
  }
  return 0;
}
