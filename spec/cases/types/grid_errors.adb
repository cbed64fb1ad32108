// grid<K, V> (language.md 3.6.1): two type arguments, a map key type, and two keys of that type.
public grid<double, int> a;
public grid<int> b;
public grid<int, string> c;
public map<int, int> d;
procedure p() {
  c["x", 1] = "a";
  c[1, 2.5] = "b";
  d[1, 2] = 3;
  int n = c[1, 2];
}
// expect error E0309 at 2:13
// expect error E0309 at 3:8
// expect error E0316 at 7:5
// expect error E0316 at 8:8
// expect error E0306 at 9:3
// expect error E0301 at 10:11
