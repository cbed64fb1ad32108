record Row {
  public int id;
}

table<Row> _rows;
public formula few = iterate _rows limit "3";
// expect error E0301 at 6:42
