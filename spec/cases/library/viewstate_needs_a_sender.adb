// ViewState tells the connection that sent the running message: not in functions, formulas,
// policies, #state blocks or @cron (no sender, or code that only reads).
message M { int x; }
function f() -> bool {
  return ViewState.goto("/a");
}
public formula g = ViewState.merge(Dynamic.dyn(1));
#start {
  ViewState.goto("/b");
}
@cron nightly daily 3:00 {
  ViewState.goto("/c");
}
channel ok(M m) {
  ViewState.goto(ViewState.merge(Dynamic.dyn(m.x)));
}
// expect error E0318 at 5:20
// expect error E0318 at 7:30
// expect error E0318 at 9:13
// expect error E0318 at 12:13
// expect error E0301 at 15:18
