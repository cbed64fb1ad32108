record R { public int id; public string name; }
table<R> rows;
// A score is a number; so is a threshold.
public formula a = iterate rows rank r: r.name;
public formula b = iterate rows rank r: r.id threshold "high";
// The items must have fields: ints are not ranked.
public formula c = [1, 2, 3] rank x: x;
// The item's name exists only in the score, not in the threshold.
public formula d = iterate rows rank r: r.id threshold r.id;
// expect error E0301 at 4:41
// expect error E0301 at 5:56
// expect error E0308 at 7:30
// expect error E0201 at 9:56
