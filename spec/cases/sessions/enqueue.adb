// chan.enqueue(who, msg) (language.md 5.22): as if `who` had sent msg on the incomplete channel:
// it answers who's open fetch there (the waiting state resumes), or waits for the next fetch,
// which takes it at once; queued messages survive a restart.
@static { create { return true; } }
@connected { return true; }
message Move { int n; }
message Go { int n; }
channel<Move> move;
public principal player;
public int got;
public int turns;
channel auto_play(Go g) {
  move.enqueue(player, {n: g.n});
  move.enqueue(player, {n: g.n * 10});
}
channel join(Go g) {
  player = @who;
  transition #turn;
}
#turn {
  got += move.fetch(player).await().n;
  turns++;
  if (turns < 4) {
    transition #turn;
  }
}
