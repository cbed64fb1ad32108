// An enum needs at least one value (its default).
enum Nothing { }
// expect error E0513 at 2:6
