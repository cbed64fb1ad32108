record Row {
  public int id;
  public int score;
}

table<Row> _rows;
public formula bad = iterate _rows where score;
// expect error E0311 at 7:42
