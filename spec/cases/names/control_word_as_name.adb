// The control-flow words stay reserved everywhere, as Adama's lexer makes them keywords.
message M { int foreach; }
// expect error E0105 at 2:17
