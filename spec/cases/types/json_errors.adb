// A json value is read by path and by kind; it is no number, and its methods are Adama's.
function n(json v) -> int {
  return v;
  // expect error E0405 at 3:10
}

function f(json v) -> bool {
  return v.deref(1.5).to_b().has();
  // expect error E0301 at 8:10
}

function g(json v) -> int {
  return v.size();
  // expect error E0209 at 13:12
}
