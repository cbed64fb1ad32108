record Row {
  public int id;
  index missing;
  // expect error E0508 at 3:3
}
