// Document.seq() (library.md): how many transactions the document committed before the running one;
// kept with the document, so a restart goes on counting.
@static { create { return true; } }
@connected { return true; }
public int at_create;
public int last;
message M { int n; }
channel poke(M m) { last = Document.seq(); }
@construct { at_create = Document.seq(); }
test seq_counts { assert Document.seq() == 0; }
