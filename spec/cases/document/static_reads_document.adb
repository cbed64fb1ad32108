public bool open;

@static {
  create {
    return open;
    // expect error E0318 at 5:12
  }
}
