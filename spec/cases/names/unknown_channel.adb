message Move {
  int x;
}

channel<Move> move;
principal player;

#turn {
  future<Move> f = mvoe.fetch(player);
  // expect error E0208 at 9:20
}
