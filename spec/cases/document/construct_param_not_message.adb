record Row {
  public int id;
}

@construct (Row r) {
  // expect error E0502 at 5:13
}
