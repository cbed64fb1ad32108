// Only the documented escapes are allowed in strings.
public string path = "C:\temp\quiet";
// expect error E0101 at 2:30
