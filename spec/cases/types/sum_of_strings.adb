record Row {
  public int id;
  public string name;
}

table<Row> _rows;
public formula bad = (iterate _rows).name.sum();
// expect error E0319 at 7:43
