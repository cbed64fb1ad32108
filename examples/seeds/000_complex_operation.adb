// Seed 000: every message is an atomic transaction; abort rolls it back.

message ComplexMsg {
  int points;
}

record Achievement {
  public string name;
}

public int score;
public int max_score = 100;
table<Achievement> achievements;

channel complex_operation(ComplexMsg msg) {
score += 10;
if (score > max_score) {
abort; // ROLLBACK -- score is unchanged
}
achievements <- { name: "High Score" };
}
