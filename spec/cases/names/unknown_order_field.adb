record Row {
  public int id;
  public int score;
}

table<Row> _rows;
public formula ranked = iterate _rows order by points desc;
// expect error E0203 at 7:48
