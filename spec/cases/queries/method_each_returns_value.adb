// Only a method that returns nothing is called on every row of a list (language.md 5.19).
record Card {
  public int id;
  public int value;
  method worth() -> int { return value; }
}
table<Card> _cards;
procedure total() {
  (iterate _cards).worth();
}
// expect error E0209 at 9:20
