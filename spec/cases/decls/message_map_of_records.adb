// A message's map holds plain data: not records (language.md 4.5).
record R { public int id; }
message M { map<int, R> rows; }
// expect error E0321 at 3:13
