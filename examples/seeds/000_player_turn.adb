// Seed 000: the document acts like a Dungeon Master and asks a player.

message DrawCount {
  int count;
}

channel<DrawCount> how_many_cards;
public principal current_player;
public int cards_to_draw;

#player_turn {
future<DrawCount> request = how_many_cards.fetch(current_player);
DrawCount response = request.await();
// execution pauses until the player responds
transition #play_phase;
}

#play_phase {
}
