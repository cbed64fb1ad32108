// A field declaration ends with ';'.
record Player {
  public string name
  public int score;
}
// expect error E0101 at 3:21
