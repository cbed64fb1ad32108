message M {
  int x;
}

record R {
  public int id;
  future<M> later;
  // expect error E0321 at 7:3
}
