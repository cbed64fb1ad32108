record Row {
  public int id;
}

procedure p(Row r) {
  let x = @convert<Row>(r);
  // expect error E0320 at 6:20
}
