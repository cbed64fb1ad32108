public int x;
public string x;
// expect error E0204 at 2:15
