// Complete channels in both forms, and incomplete channels asked from a state.
message Say {
  string text;
}

message Move {
  int x;
  int y;
}

record Line {
  public int id;
  public principal who;
  public string text;
}

table<Line> _lines;
channel<Move> move;
channel<Move[]> moves;
private principal player;
public int last_x;
public int picked;

channel say(Say msg) {
  _lines <- {who: @who, text: msg.text};
}

channel shout(principal who, Say msg) {
  _lines <- {who: who, text: msg.text + "!"};
}

channel join(Say msg) {
  player = @who;
  transition #turn;
}

#turn {
  future<Move> f = move.fetch(player);
  Move m = f.await();
  last_x = m.x;
  Move[] several = moves.fetch(player).await();
  Move[] options = [{x: 1, y: 1}, {x: 2, y: 2}];
  if (move.decide(player, options).await() as choice) {
    picked = choice.x;
  }
  if (moves.choose(player, options, 2).await() as chosen) {
    picked += chosen.size() + several.size();
  }
}
