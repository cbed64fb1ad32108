// A two-player card game: the round of the Dungeon Master seed, complete.
//
// Each round the document asks the current player how many cards to draw
// (one to three), waits durably for the answer, deals them, asks which card
// to play, scores it and hands the turn over. Hands are private: a card's
// suit and rank are shown only to its holder, until it is played. The game
// ends when the deck runs out (or after the rounds the creator asked for);
// then both players are asked at once whether to play again.

@static {
  create {
    return true;
  }
}

enum Suit { Hearts, Spades, Clubs, Diamonds }
enum Place { Deck, Hand, Table }

record Card {
  public int id;
  private principal holder;
  private int position;
  public Place place;
  use_policy<visible> Suit suit;
  use_policy<visible> int rank;

  // Played cards are public; a card in a hand is seen by its holder only.
  policy visible {
    return place == Place::Table || place == Place::Hand && holder == @who;
  }

  index place;
}

message DrawCount {
  int count;
}

message CardChoice {
  int id;
}

message Setup {
  int rounds;
}

message Again {
  bool yes;
}

table<Card> _cards;
channel<DrawCount> how_many;
channel<CardChoice> play;
channel<Again> again;

public principal player1;
public principal player2;
public principal current_player;
viewer_is<current_player> string prompt;
private int draw_count;
public int score1;
public int score2;
public int rounds;
public maybe<principal> winner;
public int max_rounds;
public int games;

@construct (Setup s) {
  max_rounds = s.rounds;
}

public formula table_cards = iterate _cards where place == Place::Table order by id desc;
public formula deck_size = (iterate _cards where place == Place::Deck).size();
bubble my_hand = iterate _cards where place == Place::Hand && holder == @who order by suit, rank;

@connected {
  if (player1 == @no_one) {
    player1 = @who;
  } else if (player2 == @no_one && @who != player1) {
    player2 = @who;
    transition #setupGame;
  }
  return true;
}

procedure deckEmpty() -> bool readonly {
  return (iterate _cards where place == Place::Deck).size() == 0;
}

#setupGame {
  invoke #buildDeck;
  invoke #shuffleDeck;
  current_player = Random.genBool() ? player1 : player2;
  transition #round;
}

#buildDeck {
  _cards.delete();
  foreach (s in Suit::*) {
    for (int r = 2; r <= 14; r++) {
      _cards <- {suit: s, rank: r, place: Place::Deck};
    }
  }
}

// The deck order is a shuffle drawn from the document's random stream, so a
// replay of the same events deals the same cards.
#shuffleDeck {
  int k = 0;
  foreach (c in iterate _cards where place == Place::Deck shuffle) {
    c.position = k;
    k++;
  }
}

#round {
  prompt = "How many cards will you draw (1 to 3)?";
  future<DrawCount> draw_fut = how_many.fetch(current_player);
  DrawCount draw = draw_fut.await();
  // A bad answer is refused: the player is asked again.
  if (draw.count < 1 || draw.count > 3) {
    abort;
  }
  draw_count = draw.count;

  invoke #drawCards;
  invoke #playCard;

  rounds++;
  current_player = (current_player == player1) ? player2 : player1;

  if (deckEmpty() || max_rounds > 0 && rounds >= max_rounds) {
    transition #scoring;
  } else {
    transition #round;
  }
}

#drawCards {
  foreach (c in iterate _cards where place == Place::Deck order by position limit draw_count) {
    c.holder = current_player;
    c.place = Place::Hand;
  }
}

#playCard {
  prompt = "Play a card.";
  list<Card> hand = iterate _cards where place == Place::Hand && holder == current_player;
  if (play.decide(current_player, @convert<CardChoice>(hand)).await() as choice) {
    foreach (c in iterate _cards where id == choice.id) {
      c.place = Place::Table;
      if (current_player == player1) {
        score1 += c.rank;
      } else {
        score2 += c.rank;
      }
    }
  }
  prompt = "";
}

#scoring {
  if (score1 > score2) {
    winner = player1;
  } else if (score2 > score1) {
    winner = player2;
  }
  @debug("game over after {0} rounds: {1} to {2}", rounds, score1, score2);
  transition #gameOver;
}

// Both players are asked together and may answer in either order: the
// second await finds its answer waiting if it came first.
#gameOver {
  games++;
  future<Again> ask1 = again.fetch(player1);
  future<Again> ask2 = again.fetch(player2);
  Again a1 = ask1.await();
  Again a2 = ask2.await();
  if (a1.yes && a2.yes) {
    score1 = 0;
    score2 = 0;
    rounds = 0;
    winner = @maybe<principal>;
    transition #setupGame;
  }
}
