// A readonly local keeps the value it was declared with.
procedure p() {
  readonly int k = 1;
  k = 2;
}
// expect error E0317 at 4:3
