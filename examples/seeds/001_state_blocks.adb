// Seed 001 ("The Dungeon Master Pattern"): states are named blocks.

#waitingForPlayers {
  // Logic runs when we enter this state
}

#gameInProgress {
  // Different logic here
}

#gameOver {
  // Final state
}
