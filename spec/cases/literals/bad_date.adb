// @date must name a day of the calendar.
public date d = @date 2024/2/30;
// expect error E0322 at 2:17
