// Enum dispatch (Adama's): one case per value, prefix or all values; the most
// specific case runs, with the value as `self`.
enum Suit { Hearts, Diamonds, Spades, Clubs }
enum Piece { PawnWhite, PawnBlack, King }
dispatch Suit::Hearts color() -> string { return "red"; }
dispatch Suit::Diamonds color() -> string { return "red"; }
dispatch Suit::* color() -> string { return "black"; }
dispatch Suit::* score(int base) -> int { return base + self.to_int(); }
dispatch Piece::Pawn* worth() -> int { return 1; }
dispatch Piece::King worth() -> int { return 100; }
test dispatching {
  assert (Suit::Hearts.color() == "red" && Suit::Clubs.color() == "black");
  Suit s = Suit::Spades;
  assert (s.color() == "black" && s.score(10) == 12);
  assert (Piece::PawnBlack.worth() == 1 && Piece::King.worth() == 100);
}
