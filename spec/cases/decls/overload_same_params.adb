// Overloads must differ in their parameter types.
function f(int x) -> int { return x; }
function f(int y) -> int { return y; }
// expect error E0204 at 3:10
