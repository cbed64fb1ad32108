record Secret {
  public int id;
}

message Leak {
  Secret s;
  // expect error E0321 at 6:3
}
