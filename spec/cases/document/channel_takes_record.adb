record Row {
  public int id;
}

channel add(Row r) {
  // expect error E0509 at 5:13
}
