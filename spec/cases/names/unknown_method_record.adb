record Counter {
  public int id;
  public int value;

  method bump() {
    value += 1;
  }
}

procedure go(Counter c) {
  c.bmp();
  // expect error E0209 at 11:5
}
