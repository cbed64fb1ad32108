// @time is a 24-hour clock: hours 0-23, minutes 0-59.
public time t = @time 24:00;
// expect error E0322 at 2:17
