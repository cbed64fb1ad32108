public map<double, int> bad;
// expect error E0309 at 1:12
