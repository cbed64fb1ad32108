@cron broken monthly 0 {
  // expect error E0503 at 1:7
}
