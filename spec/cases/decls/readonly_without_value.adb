// readonly needs the value it will keep.
procedure p() {
  readonly int k;
}
// expect error E0312 at 3:16
