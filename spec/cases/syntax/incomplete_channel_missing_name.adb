// An incomplete channel needs a name.
message M { int x; }
channel<M>;
// expect error E0101 at 3:11
