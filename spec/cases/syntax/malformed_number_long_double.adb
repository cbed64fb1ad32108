// Only whole numbers take the L suffix.
public double ratio = 1.5L;
// expect error E0104 at 2:23
