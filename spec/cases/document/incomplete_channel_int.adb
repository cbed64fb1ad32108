channel<int> numbers;
// expect error E0509 at 1:9
