// Seed 001: fetch and await, then apply the move and pick the next state.

message Move { int x; int y; }
channel<Move> move_channel;

record Cell {
  public int x;
  public int y;
  public principal owner;
}

table<Cell> cells;
public principal player1;
public principal player2;
public principal current_player;

procedure applyMove(Move m) {
  cells <- {x: m.x, y: m.y, owner: current_player};
}

procedure checkWinner() -> bool readonly {
  return (iterate cells where owner == current_player).size() >= 3;
}

procedure getNextPlayer() -> principal readonly {
  if (current_player == player1) {
    return player2;
  }
  return player1;
}

#playerTurn {
  future<Move> f = move_channel.fetch(current_player);
  Move m = f.await();
  applyMove(m);

  if (checkWinner()) {
    transition #gameOver;
  } else {
    current_player = getNextPlayer();
    transition #playerTurn;
  }
}

#gameOver {
}
