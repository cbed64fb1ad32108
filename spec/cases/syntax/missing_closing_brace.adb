// A record without its '}': the next record is still parsed.
record A {
  public int x;

record B {
  public int y
}
// expect error E0101 at 5:1
// expect error E0101 at 6:15
