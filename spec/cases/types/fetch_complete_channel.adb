message Say {
  string text;
}

principal player;

channel say(Say m) {
}

#ask {
  future<Say> f = say.fetch(player);
  // expect error E0315 at 11:23
}
