// A string must end on the line where it starts.
public string greeting = "hello;
public int after;
// expect error E0103 at 2:26
