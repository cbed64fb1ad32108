function stamp() -> long {
  return Time.now();
  // expect error E0318 at 2:15
}
