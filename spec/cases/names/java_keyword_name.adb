// Adama reserves Java's keywords too: they cannot name anything.
public int class = 1;
// expect error E0105 at 2:12
