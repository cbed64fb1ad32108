@cron broken daily 25:00 {
  // expect error E0503 at 1:7
}
