// Stray semicolons between declarations are nothing, as in Adama.
public int x;;
;
enum E { A };
record R { public int v; };
test t { assert (x == 0); };
