enum Suit { Hearts, Spades, Hearts }
// expect error E0212 at 1:29
