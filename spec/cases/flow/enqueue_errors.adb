// chan.enqueue needs an incomplete channel, its message type, and code that may change the document.
message Move { int n; }
message Other { string s; }
channel<Move> move;
channel done(Move m) { }
procedure p() {
  move.enqueue(@no_one, {s: "x"});
  done.enqueue(@no_one, {n: 1});
}
function f(principal who) -> int {
  move.enqueue(who, {n: 1});
  return 0;
}
// expect error E0313 at 7:26
// expect error E0315 at 8:8
// expect error E0315 at 11:8
