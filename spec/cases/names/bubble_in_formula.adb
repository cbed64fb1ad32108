public int score;
bubble mine = score + 1;
public formula leak = mine * 2;
// expect error E0213 at 3:23
