message Move {
  int x;
}

message Go {
  bool now;
}

channel<Move> move;
principal player;
public int x;

channel go(Go g) {
  x = move.fetch(player).await().x;
  // expect error E0408 at 14:26
}
