// A message may carry a map of plain data, as in Adama (language.md 4.5); it comes from JSON,
// is kept in a field and survives a restart.
@static { create { return true; } }
@connected { return true; }
message Tally { string name; map<string, int> votes; }
public Tally last;
public map<string, int> votes;
public int n;
channel tally(Tally t) {
  last = t;
  votes <- t.votes;
  n = t.votes.size();
}
