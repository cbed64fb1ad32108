record Player {
  public int id;
  public string name;
}

table<Player> _players;

procedure add() {
  _players <- {name: "a", levle: 3};
  // expect error E0313 at 9:27
}
