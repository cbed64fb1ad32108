// Not Adama (language.md 12, decision 51): Adama's parser has no `=?` assignment.
public int x;
procedure p() { x =? 1; }
// expect error E0101 at 3:20
