// A '}' with nothing open.
public int x;
}
public int y;
// expect error E0101 at 3:1
