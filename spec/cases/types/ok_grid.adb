// grid<K, V> (language.md 3.6.1): a map of maps whose cells read and write as g[x, y].
public grid<int, string> board;
public grid<string, int> scores;
record Room {
  public int id;
  public grid<int, bool> walls;
}
table<Room> rooms;
procedure fill(int n) {
  for (int x = 0; x < n; x++) {
    for (int y = 0; y < n; y++) {
      board[x, y] = "" + (x * n + y);
    }
  }
}
test cells {
  assert !board[0, 0].has();
  board[0, 0] = "x";
  board[2, 1] = "o";
  board[2, 1] += "!";
  if (board[2, 1] as v) {
    assert v == "o!";
  } else {
    assert false;
  }
  assert board[0, 0].getOrDefaultTo("") == "x";
  assert !board[1, 0].has() && !board[0, 5].has();
  assert board.size() == 2;
  board.remove(0);
  assert !board[0, 0].has();
  fill(3);
  int cells = 0;
  foreach (row in board) {
    cells += row.value.size();
  }
  assert cells == 9;
  scores["ann", "bob"] = 3;
  scores["ann", "bob"] += 2;
  assert scores["ann", "bob"].getOrDefaultTo(0) == 5;
  rooms <- {};
  foreach (r in iterate rooms) {
    r.walls[1, 1] = true;
  }
  foreach (r in iterate rooms) {
    assert r.walls[1, 1].getOrDefaultTo(false);
  }
}
