function f() -> principal {
  return @nobody;
  // expect error E0201 at 2:10
}
