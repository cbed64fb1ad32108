record Row {
  public int id;
  public double weight;
  index weight;
  // expect error E0508 at 4:3
}
