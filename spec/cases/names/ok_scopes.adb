// Name resolution: locals before row fields before document fields; sibling scopes.
record Player {
  public int id;
  public string name;
  public int score;
}

table<Player> _players;
public int score;

procedure rescore(int score_bonus) {
  int limit = 10;
  (iterate _players where score > limit).score += score_bonus;
  if (limit > 0) {
    int temp = 1;
    score += temp;
  }
  if (limit > 1) {
    int temp = 2;
    score += temp;
  }
}

procedure local_wins() {
  int score = 5;
  score += 1;
}

function later() -> int {
  return declared_below(2);
}

function declared_below(int x) -> int {
  return x * 2;
}
