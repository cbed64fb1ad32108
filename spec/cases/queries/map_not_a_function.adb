// `map` takes the name of a function.
function f(list<int> xs) -> int {
  list<int> ys = xs map 3;
  return ys.size();
}
// expect error E0303 at 3:25
