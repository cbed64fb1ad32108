public formula loop = loop + 1;
// expect error E0506 at 1:16
