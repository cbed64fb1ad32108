// A channel takes (M m) or (principal who, M m).
message M { int x; }

channel c(principal who, M m, int extra) {
}
// expect error E0502 at 4:9
