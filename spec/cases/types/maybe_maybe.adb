public maybe<maybe<int>> twice;
// expect error E0309 at 1:8
