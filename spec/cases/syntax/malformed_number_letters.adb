// A number may not run into letters.
public int count = 12ab;
// expect error E0104 at 2:20
