// tuple<...> needs two or more items, each a known type; a tuple's items are first, second, ...
public tuple<int> one;
// expect error E0309 at 2:8
public tuple<int, Nope> two;
// expect error E0202 at 4:19

function f() -> int {
  let k = (1, "x");
  return k.third;
  // expect error E0203 at 9:12
}

function g() -> tuple<int, string> {
  return (1, 2);
  // expect error E0301 at 14:14
}

function h() -> tuple<int, string> {
  return (1, "a", 3);
  // expect error E0313 at 19:19
}
