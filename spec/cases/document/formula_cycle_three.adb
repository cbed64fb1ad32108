public int base;
formula a = c + base;
// expect error E0506 at 2:9
formula b = a * 2;
formula c = b - 1;
