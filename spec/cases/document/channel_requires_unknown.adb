// requires<...> names document policies.
message M { int x; }
channel c(M m) requires<nobody> {
}
// expect error E0210 at 3:1
