// With two parameters the first must be 'principal who'.
message M { int x; }

channel c(int who, M m) {
}
// expect error E0502 at 4:11
