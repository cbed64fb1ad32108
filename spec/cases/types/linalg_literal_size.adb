// `@vec[...]` takes 2, 3 or 4 numbers and `@matrix[...]` 4, 9 or 16 (language.md 3.12.1).
public formula v = @vec[1, 2, 3, 4, 5];
public formula m = @matrix[1, 2, 3];
// expect error E0301 at 2:20
// expect error E0301 at 3:20
