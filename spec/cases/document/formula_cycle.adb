formula a = b + 1;
// expect error E0506 at 1:9
formula b = a + 1;
