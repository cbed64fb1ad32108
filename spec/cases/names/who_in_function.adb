function me() -> principal {
  return @who;
  // expect error E0213 at 2:10
}
