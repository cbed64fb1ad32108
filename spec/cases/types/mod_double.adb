function bad(double d) -> bool {
  if (d % 2 as r) {
    // expect error E0302 at 2:7
    return true;
  }
  return false;
}
