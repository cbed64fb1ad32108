record Row {
  public int id;
}

table<Row> _rows;
public formula mixed = iterate _rows shuffle;
// expect error E0318 at 6:38
