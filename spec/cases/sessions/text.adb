// Adama's text (language.md 3.13.1): set from a string, read with get(), edited by change sets
// that follow one another (append gives false for one that does not), compacted into its lines;
// viewers see its JSON.
@static { create { return true; } }
@connected { return true; }
public text body;
record Note { public int id; public text words; }
table<Note> _notes;
message Edit { int seq; dynamic changes; }
message Reset { string to; }
public bool last;
channel edit(Edit e) { last = body.append(e.seq, e.changes); }
channel reset(Reset r) { body = r.to; }
message Squash { double ratio; }
channel squash(Squash q) { body.compact(q.ratio); }
public formula now = body.get();
test edits {
  assert body.get() == "";
  body = "hello\nworld";
  assert body.get() == "hello\nworld";
  assert !body.append(5, Dynamic.dyn(0));
  assert body.append(0, Dynamic.dyn(0));
  assert !body.append(0, Dynamic.dyn(0));
  assert body.get() == "hello\nworld";
  _notes <- {};
  foreach (n in iterate _notes) { n.words = "a"; assert n.words.get() == "a"; }
}
