// The enum methods take no arguments.
enum E { A, B }
function f(E e) -> E {
  return e.next(2);
}
// expect error E0304 at 4:10
