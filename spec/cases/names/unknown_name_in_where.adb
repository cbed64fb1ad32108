record Row {
  public int id;
  public int score;
}

table<Row> _rows;
public formula top = iterate _rows where scroe > 3;
// expect error E0201 at 7:42
