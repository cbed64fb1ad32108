@cron late daily 23:75 {
  // expect error E0503 at 1:7
}
