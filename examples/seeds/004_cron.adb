// Seed 004: cron jobs run on schedule, even when nobody is connected.

record Task {
  public string name;
  public string status;
}
table<Task> tasks;
public int refreshes;
public int invoices;

// runs once per day at 2:30 AM
@cron cleanup daily 2:30 {
// purge old records
(iterate tasks where status == "done").delete();
}
// runs once per hour at minute 0
@cron refresh hourly 0 {
// poll external data
refreshes += 1;
}
// runs once per month on the 1st
@cron billing monthly 1 {
// generate invoice
invoices += 1;
}
