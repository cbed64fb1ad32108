// One game of tic-tac-toe that the lobby created (lobby.adb). Its two players
// come in @construct's message; each move is a message on `move` naming a cell
// 0..8. When the game ends, the game tells the lobby who won: a send to the
// lobby document's channel `finished`, made once, whatever crashes.

@static {
  create {
    // Only a lobby document creates games.
    return @who.authority() == "doc:lobby";
  }
}

message Start {
  principal x;
  principal o;
  string lobby;
}

message Move {
  int cell;
}

space lobby;

public principal player_x;
public principal player_o;
public principal current;
public string home;
public map<int, int> cells;
public int moves;
public string outcome;
public bool reported;

@construct (Start s) {
  player_x = s.x;
  player_o = s.o;
  current = s.x;
  home = s.lobby;
}

@connected {
  return @who == player_x || @who == player_o;
}

procedure mark(int cell) -> int readonly {
  if (cells[cell] as c) {
    return c;
  }
  return 0;
}

procedure line(int a, int b, int c) -> int readonly {
  int m = mark(a);
  if (m != 0 && mark(b) == m && mark(c) == m) {
    return m;
  }
  return 0;
}

procedure won() -> int readonly {
  int w = line(0, 1, 2) + line(3, 4, 5) + line(6, 7, 8);
  w += line(0, 3, 6) + line(1, 4, 7) + line(2, 5, 8);
  w += line(0, 4, 8) + line(2, 4, 6);
  return w;
}

channel move(Move m) {
  if (outcome != "" || @who != current || m.cell < 0 || m.cell > 8 || mark(m.cell) != 0) {
    abort;
  }
  int side = current == player_x ? 1 : 2;
  cells[m.cell] = side;
  moves++;
  int w = won();
  if (w > 0) {
    outcome = w == 1 ? "x" : "o";
  } else if (moves == 9) {
    outcome = "draw";
  } else {
    current = current == player_x ? player_o : player_x;
    return;
  }
  // The result goes back to the lobby: sent once the move commits, delivered once.
  let sent = lobby.finished(home, {game: Document.key(), outcome: outcome});
}
