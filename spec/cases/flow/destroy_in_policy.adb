policy p {
  @destroy;
  // expect error E0412 at 2:3
  return true;
}
