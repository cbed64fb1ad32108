// Every privacy rule of spec/protocol.md section 9, for tests/test_views_privacy.py.
enum Suit { Hearts, Spades }

record Inner {
  public int n;
  viewer_is<owner> string tip;
}

record Card {
  private int id;
  public Suit suit;
  private principal holder;
  viewer_is<holder> int rank;
  viewer_is<owner> string owner_note;
  use_policy<is_holder> string secret;
  use_policy<is_owner> string for_owner;
  public Inner inner;
  public formula double_rank = rank * 2;
  private formula hidden_f = rank + 1;
  bubble mine = holder == @who;

  policy is_holder {
    return holder == @who;
  }

  policy can_see {
    return !hide_all || holder == @who;
  }

  require can_see;
}

table<Card> _cards;
public formula cards = iterate _cards;
public formula first_card = (iterate _cards)[0];
public map<int, Card> pinned;
principal owner;
public bool hide_all;
public long big = 9007199254740993L;
public double ratio = 0.5;
public maybe<int> age;
public principal who_last;
public formula pair = {a: 1, b: big};
private int vault = 41;
viewer_is<owner> int owner_only = 42;
use_policy<is_owner> int policy_only = 43;
bubble my_count = (iterate _cards where holder == @who).size();

policy is_owner {
  return @who == owner;
}

message Deal { int rank; string secret; string note; bool mine; }
message Flag { bool on; }
message Ref { int id; }

@construct {
  owner = @who;
}

@connected {
  return true;
}

channel deal(Deal d) {
  principal h = owner;
  if (d.mine) {
    h = @who;
  }
  _cards <- {holder: h, rank: d.rank, secret: d.secret, owner_note: d.note, for_owner: d.note};
  who_last = @who;
}

channel hide(Flag f) {
  hide_all = f.on;
}

channel pin(Ref r) {
  foreach (c in iterate _cards where id == r.id) {
    pinned[r.id] = c;
  }
}
