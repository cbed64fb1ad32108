record Row {
  public int id;
  require is_ownr;
  // expect error E0210 at 3:3

  policy is_owner {
    return true;
  }
}
