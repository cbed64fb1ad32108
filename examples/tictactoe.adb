// Tic-tac-toe, run by the document as a dungeon master.
//
// The first two people to connect play. The document asks the player whose
// turn it is to pick a square (decide), waits durably for the answer, refuses
// a taken square, checks for a winner and hands the turn over. Either player may ask
// for a rematch once the game is over.

@static {
  create {
    return true;
  }
}

record Square {
  public int id;
  public int x;
  public int y;
  public principal piece;
}

message Play {
  int x;
  int y;
}

message Rematch {
  bool ready;
}

table<Square> _board;
channel<Play> play;

public principal player_x;
public principal player_o;
public principal current;
public maybe<principal> winner;
public bool draw;
public int moves;
public int games;

public formula board = iterate _board order by y, x;
bubble my_turn = current == @who && !winner.has() && !draw;

@construct {
  for (int y = 0; y < 3; y++) {
    for (int x = 0; x < 3; x++) {
      _board <- {x, y, piece: @no_one};
    }
  }
}

@connected {
  if (player_x == @no_one) {
    player_x = @who;
  } else if (player_o == @no_one && @who != player_x) {
    player_o = @who;
    current = player_x;
    transition #turn;
  }
  return true;
}

procedure piece_at(int col, int row) -> principal readonly {
  list<Square> hit = iterate _board where x == col && y == row;
  if (hit[0] as square) {
    return square.piece;
  }
  return @no_one;
}

// The owner of the line starting at (x0, y0) going (dx, dy), or @no_one.
procedure line_owner(int x0, int y0, int dx, int dy) -> principal readonly {
  principal first = piece_at(x0, y0);
  if (first == @no_one) {
    return @no_one;
  }
  for (int k = 1; k < 3; k++) {
    if (piece_at(x0 + dx * k, y0 + dy * k) != first) {
      return @no_one;
    }
  }
  return first;
}

procedure find_winner() -> maybe<principal> readonly {
  for (int i = 0; i < 3; i++) {
    principal across = line_owner(0, i, 1, 0);
    if (across != @no_one) {
      return across;
    }
    principal down = line_owner(i, 0, 0, 1);
    if (down != @no_one) {
      return down;
    }
  }
  principal diagonal = line_owner(0, 0, 1, 1);
  if (diagonal != @no_one) {
    return diagonal;
  }
  principal anti = line_owner(2, 0, -1, 1);
  if (anti != @no_one) {
    return anti;
  }
  return @maybe<principal>;
}

// The player picks among all nine squares; a taken one is refused by abort,
// which rolls back to the await and asks the same player again.
#turn {
  list<Square> squares = iterate _board order by y, x;
  if (play.decide(current, @convert<Play>(squares)).await() as pick) {
    if (piece_at(pick.x, pick.y) != @no_one) {
      abort;
    }
    (iterate _board where x == pick.x && y == pick.y).piece = current;
    moves++;
  }
  if (find_winner() as w) {
    winner = w;
    transition #over;
  } else if (moves == 9) {
    draw = true;
    transition #over;
  } else {
    current = current == player_x ? player_o : player_x;
    transition #turn;
  }
}

#over {
  games++;
}

// After a game, either player may start the next one; the loser (or, after a
// draw, the player who went second) opens it.
channel rematch(principal who, Rematch r) {
  if (!r.ready || !winner.has() && !draw) {
    abort;
  }
  if (who != player_x && who != player_o) {
    abort;
  }
  if (winner as w) {
    current = w == player_x ? player_o : player_x;
  } else {
    current = current == player_x ? player_o : player_x;
  }
  (iterate _board).piece = @no_one;
  winner = @maybe<principal>;
  draw = false;
  moves = 0;
  transition #turn;
}
