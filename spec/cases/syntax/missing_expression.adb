// '=' must be followed by a value.
public int score = ;
// expect error E0101 at 2:20
