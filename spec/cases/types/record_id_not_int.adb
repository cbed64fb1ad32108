record Row {
  public string id;
  // expect error E0301 at 2:10
}
