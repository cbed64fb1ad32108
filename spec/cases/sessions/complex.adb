// Complex numbers over the protocol (language.md 3.12): a message field {"r": .., "i": ..} in,
// a document field out, and a formula dividing by it (empty, shown as null, while it is 0).
@static { create { return true; } }
@connected { return true; }

message Point {
  complex at;
}

public complex kept;
public formula inverse = 1 / kept;

channel place(Point p) {
  kept = p.at * @i;
}
