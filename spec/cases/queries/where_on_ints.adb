// `where` reads record fields by bare name; a list of ints needs where_as.
function f(list<int> xs) -> int {
  list<int> big = xs where 1 > 0;
  return big.size();
}
// expect error E0308 at 3:22
