record Pair {
  public int left;
  public int left;
  // expect error E0212 at 3:14
}
