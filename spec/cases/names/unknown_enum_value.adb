enum Suit { Hearts, Spades, Clubs, Diamonds }
public Suit wild = Suit::Joker;
// expect error E0207 at 2:20
