// @viewer is only available in bubbles (Adama's rule): a formula is the same for every viewer,
// and a record's bubble is not given the viewer's state either (language.md 4.9.1).
view int page;
public int x;
formula f = @viewer.page + x;
record R {
  public int y;
  bubble b = @viewer.page + y;
}
table<R> rs;
// expect error E0213 at 5:13
// expect error E0213 at 8:14
