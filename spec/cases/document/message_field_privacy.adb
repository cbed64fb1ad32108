message Note {
  public string text;
  // expect error E0505 at 2:3
}
