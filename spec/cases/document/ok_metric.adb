// metric (Adama's): a named value for the operators, checked like a formula.
public int x;
metric active = x + 1;
metric label = "a";
