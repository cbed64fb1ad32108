message Move {
  int x;
}

future<Move> pending;
// expect error E0321 at 5:1
