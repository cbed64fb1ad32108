// 'long' is reserved (a built-in type name, as in Adama): it cannot name a record.
record long {
  public int id;
}
// expect error E0105 at 2:8
