// expect error E0102 at 2:1
/* This comment opens and never closes.
public int x;
