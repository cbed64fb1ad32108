// Adama's view filters (language.md 4.10.1): `filter f { ... }` reads the viewer's own state;
// `use_policy<p | f>` and `bubble<| f>` show a value to the viewers every policy and filter admits.
@static { create { return true; } }
@connected { return true; }
view bool show_all;
filter wants_all { return @viewer.show_all; }
policy anyone { return true; }
policy nobody { return false; }
use_policy<nobody | wants_all> int never = 5;
public int shown = 1;
use_policy<anyone | wants_all> int secret = 2;
use_policy<|wants_all> int secret2 = 3;
bubble<|wants_all> b = 4;
record R { public int id; use_policy<|wants_all> int hidden; }
table<R> _rs;
public formula rows = iterate _rs;
@construct { _rs <- {hidden: 9}; }
