// An entry of a map has a key and a value, nothing else.
public map<string, int> m;
function f() -> int {
  return 0;
}
procedure p() {
  foreach (kv in m) {
    int x = kv.count;
  }
}
// expect error E0203 at 8:16
