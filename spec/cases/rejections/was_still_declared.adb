// A field's earlier name must be gone from the code that renames it (spec/runtime.md 9.2).
public int score @was(points);
// expect error E0214 at 2:23
public int points;
record Row {
  public int total @was(sum);
  public int other @was(sum);
// expect error E0214 at 7:25
}
message Ask {
  int n @was(count);
// expect error E0214 at 11:3
}
