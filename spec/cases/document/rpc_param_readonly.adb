// The parameters of an rpc are read-only, like a channel's message.
rpc add(who, int amount) {
  amount = 2;
}
// expect error E0317 at 3:3
