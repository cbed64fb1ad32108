// @viewer is only available in bubbles (Adama's rule): a formula is the same for every viewer,
// and neither a record's formula nor its methods see a viewer (language.md 4.9.1).
view int page;
public int x;
formula f = @viewer.page + x;
record R {
  public int y;
  formula g = @viewer.page + y;
  bubble b = @viewer.page + y;
  method m() -> int {
    return @viewer.page;
  }
}
table<R> rs;
// expect error E0213 at 5:13
// expect error E0213 at 8:15
// expect error E0213 at 11:12
