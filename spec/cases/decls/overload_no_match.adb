// No overload of f takes a bool.
function f(int x) -> int { return x; }
function f(string s) -> int { return 0; }
function g() -> int { return f(true); }
// expect error E0301 at 4:30
