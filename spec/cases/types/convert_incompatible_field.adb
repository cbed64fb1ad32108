record Square {
  public int id;
  public int x;
  public string y;
}

message Play {
  int x;
  int y;
}

procedure p(Square s) {
  Play p = @convert<Play>(s);
  // expect error E0320 at 13:27
}
