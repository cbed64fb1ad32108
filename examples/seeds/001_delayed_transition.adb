// Seed 001: a durable timer is a delayed transition.

public bool open = true;

#bidding {
  transition #auctionClosed in 3600;  // Close after 1 hour
}

#auctionClosed {
  open = false;
}
