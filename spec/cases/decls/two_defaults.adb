// One value of an enum may be its @default.
enum E { @default A, B, @default C }
// expect error E0204 at 2:25
