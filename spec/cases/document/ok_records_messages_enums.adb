// Records, messages and enums as the checker accepts them.
enum Suit { Hearts, Spades, Clubs:7, Diamonds, Carreau:7, }

record Card {
  public int id;
  public Suit suit = Suit::Clubs;
  public int rank = 2;
  private principal holder;
  viewer_is<holder> bool marked;
  index suit;
  index holder;

  method is_face() -> bool readonly {
    return rank > 10;
  }

  policy mine {
    return holder == @who;
  }

  require mine;
}

message Point {
  int x;
  int y;
}

message Paint {
  Point at;
  Suit color;
  maybe<string> label;
  int[] sizes;
}

table<Card> _deck;
public Suit trump = Suit::Hearts;
public int suits = Suit::*.size();
