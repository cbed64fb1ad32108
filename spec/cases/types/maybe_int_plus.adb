// Only maybe<double> lifts through arithmetic; a maybe<int> must be unwrapped.
public maybe<int> m;
public formula f = m + 1;
// expect error E0302 at 3:20
