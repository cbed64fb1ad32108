policy maybe_yes {
  // expect error E0401 at 1:8
  if (true) {
    return true;
  }
}
