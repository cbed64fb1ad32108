record R {
  public int id;
}

message R {
  // expect error E0204 at 5:9
  int x;
}
