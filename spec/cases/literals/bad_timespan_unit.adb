// the units of @timespan are sec, min, hr, day and week.
public timespan s = @timespan 5 years;
// expect error E0101 at 2:21
