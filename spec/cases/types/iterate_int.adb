public int score;
public formula rows = iterate score;
// expect error E0307 at 2:31
