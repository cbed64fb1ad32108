// Seed 001: decide() restricts the player to one of the valid options.
//
// The seed declares `list<Play> open = iterate _board ...`, but `_board`
// holds records and `Play` is the channel's message; the list is of the
// record type here and @convert<Play> turns it into messages, which is what
// the seed's @convert call is for.

message Play {
  int x;
  int y;
}

record Square {
  public int x;
  public int y;
  public principal piece;
}

table<Square> _board;
public principal current_player;

procedure applyMove(Play pick) {
  (iterate _board where x == pick.x && y == pick.y).piece = current_player;
}

channel<Play> play;

#playerTurn {
  list<Square> open = iterate _board where piece == @no_one;
  if (play.decide(current_player, @convert<Play>(open)).await() as pick) {
    applyMove(pick);
  }
  transition #nextTurn;
}

#nextTurn {
}
