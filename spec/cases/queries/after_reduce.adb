record R { public int id; public string team; }
table<R> rows;
// A reduce makes a map: no list clause may follow it.
public formula f = iterate rows reduce team limit 3;
// expect error E0306 at 4:45
