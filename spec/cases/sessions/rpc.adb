// rpc (Adama's): a channel whose message is written as parameters.
public int total;
public string last;
@static { create { return true; } }
@connected { return true; }
rpc add(who, int amount, string note) {
  total += amount;
  last = note + " by " + who.agent();
}
