public int score;

procedure bump() {
  scroe += 1;
  // expect error E0201 at 4:3
}
