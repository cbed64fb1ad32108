// Only `if` takes a maybe<bool> (language.md 6.4); a loop's condition is a bool.
function f(maybe<bool> m) -> int {
  while (m) {
    return 1;
  }
  return 0;
}
// expect error E0311 at 3:10
