// Overloaded functions and procedures (Adama's): one name, different parameter
// types; a call picks the one its arguments fit exactly, else with widening.
function describe(int x) -> string { return "int " + x; }
function describe(string s) -> string { return "string " + s; }
function describe(int a, int b) -> string { return "two " + (a + b); }
procedure bump(int n) { counter += n; }
procedure bump(double d) { counter += Math.toInt(d) * 10; }
public int counter;
test overloads {
  assert (describe(3) == "int 3");
  assert (describe("x") == "string x");
  assert (describe(1, 2) == "two 3");
  bump(2);
  bump(1.5);
  assert (counter == 12);
}
