// Seed 004: a document may delete itself.

public bool is_expired;

@cron expire daily 0:00 {
if (is_expired) {
@destroy;
}
}
