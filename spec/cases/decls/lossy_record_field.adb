// `lossy` marks a message field; a record field cannot be lossy.
record R {
  public int x lossy;
}
// expect error E0321 at 3:3
