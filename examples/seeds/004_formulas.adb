// Seed 004: reactive formulas recompute when what they read changes.

public int x;
public int y;
public formula sum = x + y;
public formula doubled = sum * 2;
