public int score;

procedure p() {
  score <- {x: 1};
  // expect error E0307 at 4:3
}
