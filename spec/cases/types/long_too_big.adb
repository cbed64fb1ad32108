public long huge = 9223372036854775808L;
// expect error E0322 at 1:20
