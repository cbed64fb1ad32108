public int big = 3000000000;
// expect error E0322 at 1:18
