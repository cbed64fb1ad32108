// @authorize only reads the document and answers a string (language.md 4.20.1).
public int tries;
@authorize (user, pass) {
  tries++;
  return 7;
}
// expect error E0317 at 4:3
// expect error E0405 at 5:10
