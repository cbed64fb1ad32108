// @datetime needs an offset (or Z): it names one instant.
public datetime at = @datetime "2024-01-01T10:00:00";
// expect error E0322 at 2:22
