// A rummy-style card table, written the way Adama's own card games are (issue 22):
// a deck numbered by one bulk assignment (its right side runs once per row), each
// player's discards done by calling a record method on every row of a query, names
// such as `message`, `record` and `view` used for fields, and maybe<bool> tests.
@static {
  create { return true; }
}

enum Suit { Clubs, Diamonds, Hearts, Spades }

record Card {
  public int id;
  public Suit suit;
  public int rank;
  public int position;
  private principal owner;
  public bool discarded;
  public int record;  // the round the card was last dealt in: a name, not a keyword

  require seen;

  policy seen {
    return owner == @who || discarded;
  }

  method discard() {
    discarded = true;
    owner = @no_one;
  }
}

record Seat {
  public int id;
  public principal who;
  public string message;  // what the player last said
  public maybe<bool> ready;
}

table<Card> _deck;
table<Seat> _seats;

public int round;
public string view = "lobby";
public formula seats = iterate _seats order by id;
public formula discards = iterate _deck where discarded order by position;
public formula points = (iterate _deck where discarded).rank.sum();
public formula in_deck = (iterate _deck where owner == @no_one && !discarded).size();
bubble hand = iterate _deck where owner == @who && !discarded order by suit, rank;

message Say { string message; }
message Ready { bool ready; }
message Deal { int count; }

@connected {
  return true;
}

@construct {
  foreach (s in Suit::*) {
    for (int r = 1; r <= 13; r++) {
      _deck <- {suit: s, rank: r, owner: @no_one};
    }
  }
}

channel join(Say s) {
  if ((iterate _seats where who == @who).size() > 0 || _seats.size() >= 4) {
    abort;
  }
  _seats <- {who: @who, message: s.message};
}

channel say(Say s) {
  (iterate _seats where who == @who).message = s.message;
}

channel ready(Ready r) {
  (iterate _seats where who == @who).ready = r.ready;
}

procedure everyone_ready() -> bool {
  foreach (s in iterate _seats) {
    if (s.ready) {
      continue;
    }
    return false;
  }
  return _seats.size() >= 2;
}

channel deal(Deal d) {
  if (!everyone_ready() || d.count < 1 || d.count > 7) {
    abort;
  }
  round++;
  view = "playing";
  // Shuffle: every card gets the next number, the right side evaluated once per row.
  int k = 0;
  (iterate _deck where !discarded shuffle).position = k++;
  (iterate _deck).owner = @no_one;
  foreach (s in iterate _seats order by id) {
    (iterate _deck where owner == @no_one && !discarded order by position limit d.count).owner = s.who;
    (iterate _deck where owner == s.who).record = round;
  }
}

message Play { int card; }

channel discard(Play p) {
  if ((iterate _deck where id == p.card && owner == @who).size() == 0) {
    abort;
  }
  (iterate _deck where id == p.card).discard();
}

channel fold(Ready r) {
  // Every card of the player's hand goes: a method called on each row of the query.
  (iterate _deck where owner == @who).discard();
  (iterate _seats where who == @who).ready = false;
}

test a_deck_is_numbered_once_per_row {
  int k = 0;
  (iterate _deck order by id).position = k++;
  assert k == 52;
  list<int> ps = (iterate _deck order by id).position;
  assert ps[0] == 0 && ps[51] == 51;
  assert !points.has();
}
