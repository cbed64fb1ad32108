// Adama's type annotations, `int(min = 0, label = "Age")`: accepted, no meaning here.
message M {
  int ( Z = 42 , uri = "/blah/{tenant}/view/thing/{id}" ) xyz;
  string(label = "Name") name;
}
record R { public int(min=0) qty; }
function f(int(min=1) n) -> int { return n; }
test t { M m = {xyz: 1}; assert (m.xyz == 1 && f(2) == 2); }
