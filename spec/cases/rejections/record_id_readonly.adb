// A row's id belongs to its table: code reads it, never sets it.
record R {
  public int id;
  public int x;
}
table<R> rows;
procedure renumber() {
  foreach (r in iterate rows) {
    r.id = r.x;
// expect error E0317 at 9:7
  }
}
