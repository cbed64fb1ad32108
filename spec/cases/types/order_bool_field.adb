record Row {
  public int id;
  public principal owner;
}

table<Row> _rows;
public formula sorted = iterate _rows order by owner;
// expect error E0302 at 7:48
