// delete_on_close takes a bool constant (language.md 4.23).
@static {
  delete_on_close = 1;
}
// expect error E0504 at 3:21
