// Seed 001: a complete card game round.

message DrawCount {
  int count;
}

channel<DrawCount> how_many;
public principal player1;
public principal player2;
public principal current_player;
public int deck = 52;
public int in_hand;
public int played;

procedure deckEmpty() -> bool readonly {
  return deck <= 0;
}

#drawCards {
  deck -= 1;
  in_hand += 1;
}

#playCard {
  in_hand -= 1;
  played += 1;
}

#round {
  future<DrawCount> draw_fut = how_many.fetch(current_player);
  DrawCount draw = draw_fut.await();

  invoke #drawCards;
  invoke #playCard;

  current_player = (current_player == player1) ? player2 : player1;

  if (deckEmpty()) {
    transition #scoring;
  } else {
    transition #round;
  }
}

#scoring {
}
