// Every value needs a case of a dispatched method.
enum Suit { Hearts, Spades }
dispatch Suit::Hearts color() -> string { return "red"; }
// expect error E0514 at 3:23
