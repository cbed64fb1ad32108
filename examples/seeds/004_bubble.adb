// Seed 004: each viewer sees only what privacy lets them see.

public int score;
// only the owner can see their secret
private int secret;
bubble my_view = secret + score;
