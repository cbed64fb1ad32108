// ViewState (language.md 5.23): a message's code tells its sender's connection to merge a value
// into its viewer state or to go to a path; the frames follow the message's commit, go to the
// sender only, and an aborted message tells nothing. Elsewhere (here @connected) it answers false.
@static { create { return true; } }
message Open { string tab; bool fail; }
public int opened;
public bool told_on_connect = true;
public bool told;
@connected {
  told_on_connect = ViewState.goto("/never");
  return true;
}
procedure tell(string tab) -> bool {
  return ViewState.merge(Dynamic.toDynamic("{\"tab\":\"" + tab + "\"}").getOrDefaultTo(Dynamic.dyn(0)));
}
channel open(Open o) {
  opened++;
  told = tell(o.tab);
  ViewState.goto("/tabs/" + o.tab);
  if (o.fail) {
    abort;
  }
}
