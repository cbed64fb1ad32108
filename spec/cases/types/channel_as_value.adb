message Move {
  int x;
}

channel<Move> move;

procedure p() {
  let c = move;
  // expect error E0315 at 8:11
}
