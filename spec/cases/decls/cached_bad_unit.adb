// A cached formula refreshes every so many seconds, minutes or hours; days are not a unit.
public cached<every 1 day> x = 1;
// expect error E0101 at 2:23
