public int low = -2147483649;
// expect error E0322 at 1:18
