// A message method sees its own fields, not the document.
public int total;
message M {
  int x;
  method plus() -> int {
    return x + total;
  }
}
// expect error E0318 at 6:16
