// Seed 004: @debug publishes to debug subscribers, at no cost without them.

record Item {
  public string label;
}

table<Item> items;
public int round;

#play {
  round += 1;
  @debug("processing round {0}, items={1}", round, items.size());
}
