// A double has at most one '.'.
public double ratio = 1.2.3;
// expect error E0104 at 2:23
