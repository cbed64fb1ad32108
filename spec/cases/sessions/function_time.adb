// As in Adama, a function may read the clock (Time), the input's time (language.md 4.12); a
// formula calling it is recomputed as time passes. delete_on_close is accepted (4.23).
@static {
  create { return true; }
  delete_on_close = false;
}
@connected { return true; }
function elapsed(long since) -> long { // milliseconds
  return Time.now() - since;
}
public long started;
public formula seconds = elapsed(started);
@construct { started = Time.now(); }
test reads_the_clock {
  assert elapsed(Time.now()) == 0L;
}
