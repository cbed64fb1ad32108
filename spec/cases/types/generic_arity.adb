public list<int, int> pairs;
// expect error E0309 at 1:8
