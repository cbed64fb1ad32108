public map<string, int> votes;

procedure p() {
  votes[1] = 2;
  // expect error E0316 at 4:9
}
