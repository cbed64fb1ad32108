// A privacy word must be followed by a type.
public = 5;
// expect error E0101 at 2:8
