record R { public int id; public int score; }
table<R> rows;
// reduce groups by a field of the rows.
public formula f = iterate rows reduce on team;
// expect error E0203 at 4:33
