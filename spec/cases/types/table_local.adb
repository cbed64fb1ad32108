record Row {
  public int id;
}

procedure p() {
  table<Row> t;
  // expect error E0309 at 6:3
}
