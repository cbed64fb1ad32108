// @authorization takes a message (language.md 4.20.1).
@authorization (who) {
  return "x";
}
// expect error E0502 at 2:1
