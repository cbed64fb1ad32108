// Dates, times, timespans and principals with their library calls.
public date start;
public datetime stamp;
public timespan waited;
public principal owner;

procedure mark() {
  stamp = Time.datetime();
  date d = Date.date(stamp);
  time t = Date.time(stamp);
  if (Date.make(2024, 2, 29) as leap) {
    start = Date.offsetDay(leap, Date.dayOfWeek(d));
  }
  waited = Date.between(stamp, Date.future(stamp, waited));
  double hours = waited.hours() + waited.minutes() + waited.seconds();
  if (Time.make(12, 30) as noon) {
    bool after = t > noon;
  }
}

function describe(principal p) -> string {
  return p.agent() + "@" + p.authority();
}
