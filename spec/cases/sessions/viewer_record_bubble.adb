// A record's bubbles read the viewer's own state too (language.md 4.9.1).
@static { create { return true; } }
@connected { return true; }

view string highlight;

record Item {
  public string tag;
  public int n;
  bubble mine = tag == @viewer.highlight;
  bubble shown = mine ? n * 10 : n;
}

message Add { string tag; int n; }

table<Item> _items;
public formula items = iterate _items;
bubble marked = (iterate _items where mine).size();
public int defaults_mine;

channel add(Add a) {
  _items <- a;
}

// code that is no bubble sees the view declarations' defaults (highlight "")
channel count(Add a) {
  defaults_mine = (iterate _items where mine).size();
}
