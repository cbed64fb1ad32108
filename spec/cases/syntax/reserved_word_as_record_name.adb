// 'message' is reserved: it cannot name a record.
record message {
  public int id;
}
// expect error E0105 at 2:8
