// grid<K, V> (language.md 3.6.1): viewers see a grid as the JSON of its map of maps, a cell
// change as a delta of that cell.
@static { create { return true; } }
@connected { return true; }
public grid<int, string> board;
message Move { int x; int y; string mark; }
channel play(Move m) {
  if (board[m.x, m.y].has()) {
    abort;
  }
  board[m.x, m.y] = m.mark;
}
test taken_cells_are_refused {
  @send play(@no_one, {x: 1, y: 2, mark: "x"});
  @aborts {
    @send play(@no_one, {x: 1, y: 2, mark: "o"});
  }
  assert board[1, 2].getOrDefaultTo("") == "x";
}
