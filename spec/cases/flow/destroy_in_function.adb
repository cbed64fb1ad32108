function f() -> int {
  Document.destroy();
  // expect error E0412 at 2:12
  return 0;
}
