record Row {
  public int id;
}

table<Row> _rows;

policy cleanup {
  _rows.delete();
  // expect error E0317 at 8:9
  return true;
}
