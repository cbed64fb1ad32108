// A pinboard whose notes expire.
//
// Members pin a note for one to thirty days. Every night at 3:00, in the
// board's own time zone, a @cron job takes down the notes whose last day has
// passed and writes a one-line report. Authors may renew or unpin their own
// notes; the board's owner may keep a note forever. A member's drafts are
// theirs alone until they pin them.

@static {
  create {
    return !@who.isAnonymous();
  }
  timezone = "Europe/Paris";
}

record Note {
  public int id;
  public principal author;
  public string text;
  public date until;
  public bool kept;
  public bool pinned;
  private int renewals;

  // A draft is shown to its author only; a pinned note to everyone.
  policy shown {
    return pinned || author == @who;
  }
  require shown;

  index author;
}

message Pin {
  string text;
  int days;
  bool draft;
}

message NoteId {
  int id;
}

message Renew {
  int id;
  int days;
}

readonly principal owner;
public int sweeps;
public int taken_down;
public string last_report = "no sweep yet";

table<Note> _notes;

public formula board = iterate _notes order by until, id;
public formula pinned_count = (iterate _notes where pinned).size();
bubble mine = iterate _notes where author == @who order by id;
bubble my_expiring = (iterate _notes where author == @who && !kept && until <= Date.offsetDay(Time.today(), 1)).size();

@construct {
  owner = @who;
}

@connected {
  return !@who.isAnonymous();
}

function days_ok(int days) -> bool {
  return days >= 1 && days <= 30;
}

procedure require_author(int note) aborts {
  if ((iterate _notes where id == note && author == @who).size() == 0) {
    abort;
  }
}

channel pin(Pin p) {
  string text = p.text.trim();
  if (text.length() == 0 || !days_ok(p.days)) {
    abort;
  }
  _notes <- {author: @who, text: text, until: Date.offsetDay(Time.today(), p.days), pinned: !p.draft};
}

channel publish(NoteId n) {
  require_author(n.id);
  (iterate _notes where id == n.id).pinned = true;
}

// A renewal counts from today, not from the old last day.
channel renew(Renew r) {
  require_author(r.id);
  if (!days_ok(r.days)) {
    abort;
  }
  foreach (note in iterate _notes where id == r.id) {
    note.until = Date.offsetDay(Time.today(), r.days);
    note.renewals++;
  }
}

channel unpin(NoteId n) {
  require_author(n.id);
  (iterate _notes where id == n.id).delete();
}

channel keep(NoteId n) {
  if (@who != owner || (iterate _notes where id == n.id).size() == 0) {
    abort;
  }
  (iterate _notes where id == n.id).kept = true;
}

// The nightly cleanup: a note pinned for one day on the 1st is up on the
// 2nd, so it goes in the sweep of the night after, early on the 3rd.
@cron cleanup daily 3:00 {
  list<Note> expired = iterate _notes where !kept && until < Time.today();
  int n = expired.size();
  expired.delete();
  sweeps++;
  taken_down += n;
  last_report = "sweep " + sweeps + " on " + Time.today() + ": took down " + n;
}

test days_are_checked {
  assert (days_ok(1) && days_ok(30));
  assert (!days_ok(0) && !days_ok(31));
}
