// A timed auction for one item.
//
// The seller creates the document with the item and a hidden reserve price.
// Bidding opens a minute later and closes an hour after that (a durable
// delayed transition); a bid in the last five minutes extends the auction by
// five minutes. A bid that does not beat the current high bid is refused.

@static {
  create {
    return !@who.isAnonymous();
  }
  maximum_history = 500;
}

enum Phase { Preview, Bidding, Closed }

record Bid {
  public int id;
  public principal bidder;
  public long amount;
  public datetime placed;

  index bidder;
}

message Listing {
  string item;
  long reserve;
  long increment;
}

message PlaceBid {
  long amount;
}

message Watch {
  bool on;
}

readonly principal seller;
public string item;
private long reserve;
public long increment = 1;
public Phase phase;
private long closes_at;
public int extensions;
public maybe<principal> winner;
public maybe<long> sold_for;
public int watchers;
public int reminders;

table<Bid> _bids;

public formula bid_count = _bids.size();
public formula high_bid = (iterate _bids).amount.max();
public formula history = iterate _bids order by amount desc, id asc limit 20;
bubble my_bids = iterate _bids where bidder == @who order by amount desc;
bubble leading = (iterate _bids order by amount desc, id asc limit 1).bidder[0] == @who;

@construct (Listing l) {
  seller = @who;
  item = l.item;
  reserve = l.reserve;
  if (l.increment > 0) {
    increment = l.increment;
  }
  phase = Phase::Preview;
  transition #bidding in 60;
}

@connected {
  return true;
}

procedure current_high() -> long readonly {
  return (iterate _bids).amount.max().getOrDefaultTo(0L);
}

#bidding {
  phase = Phase::Bidding;
  closes_at = Time.now() + 3600000L;
  transition #auctionClosed in 3600;
}

channel bid(PlaceBid b) {
  if (phase != Phase::Bidding || @who == seller) {
    abort;
  }
  if (b.amount < current_high() + increment) {
    abort;
  }
  _bids <- {bidder: @who, amount: b.amount, placed: Time.datetime()};
  // Anti-sniping: the newer transition replaces the pending close.
  long left = closes_at - Time.now();
  if (left < 300000L) {
    closes_at = Time.now() + 300000L;
    extensions++;
    transition #auctionClosed in 300;
  }
}

channel watch(Watch w) {
  if (w.on) {
    watchers++;
  } else if (watchers > 0) {
    watchers--;
  }
}

#auctionClosed {
  phase = Phase::Closed;
  list<Bid> best = iterate _bids order by amount desc, id asc limit 1;
  if (best[0] as top) {
    if (top.amount >= reserve) {
      winner = top.bidder;
      sold_for = top.amount;
    }
  }
}

// While bidding is open, count the hourly reminders sent to watchers; once
// the auction has closed, losing bids are dropped at night.
@cron remind hourly 0 {
  if (phase == Phase::Bidding && watchers > 0) {
    reminders++;
  }
}

@cron archive daily 2:00 {
  if (phase == Phase::Closed) {
    if (winner as w) {
      (iterate _bids where bidder != w).delete();
    } else {
      _bids.delete();
    }
  }
}

@delete {
  return @who == seller && phase != Phase::Bidding;
}
