table<int> _numbers;
// expect error E0507 at 1:7
