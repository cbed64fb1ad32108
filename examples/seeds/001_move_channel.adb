// Seed 001: an incomplete channel, declared without a handler, so that the
// state machine can ask a specific client for input.

message Move { int x; int y; }
channel<Move> move_channel;
