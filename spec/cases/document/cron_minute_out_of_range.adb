@cron broken hourly 60 {
  // expect error E0503 at 1:7
}
