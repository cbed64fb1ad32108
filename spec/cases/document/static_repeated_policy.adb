@static {
  create {
    return true;
  }
  create {
    // expect error E0204 at 5:3
    return false;
  }
}
