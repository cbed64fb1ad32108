// sum() gives a maybe, as Adama's (language.md 5.20): an int needs a default.
function total(int[] xs) -> int {
  return xs.sum();
}
// expect error E0405 at 3:10
