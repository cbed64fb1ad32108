record Todo {
  public int id;
  public string text;
}

procedure edit() {
  Todo t;
  t.txt = "b";
  // expect error E0203 at 8:5
}
