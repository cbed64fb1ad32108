// 'daily' needs a time of day.
public int runs;

@cron nightly daily {
  runs += 1;
}
// expect error E0101 at 4:21
