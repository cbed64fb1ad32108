// Seed 001: invoke calls a state as a subroutine.

public int deck_size;
public int dealt;
public bool board_ready;

#setupGame {
  invoke #shuffleDeck;
  invoke #dealCards;
  invoke #setupBoard;
  transition #playRound;
}

#shuffleDeck {
  deck_size = 52;
}

#dealCards {
  dealt = 10;
  deck_size -= dealt;
}

#setupBoard {
  board_ready = true;
}

#playRound {
}
