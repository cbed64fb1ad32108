// Statistics works on lists of numbers.
function f(list<string> xs) -> int {
  if (Statistics.median(xs) as m) { return 1; }
// expect error E0301 at 3:7
  return 0;
}
