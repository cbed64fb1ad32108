// Tables kept in place by the views (issue 12), for tests/views/test_incremental.py:
// rows seen per viewer (a require policy, viewer_is, use_policy) and rows every
// viewer sees alike, shown whole by `iterate`, by a public table field, and
// through where / order by / limit formulas (encoded from the list, as before).
record Row {
  public int id;
  public int score;
  public string text;
  private principal holder;
  public bool shown;
  viewer_is<holder> string note;
  use_policy<mine> int secret;

  policy mine {
    return holder == @who;
  }

  policy visible {
    return shown || holder == @who || open_all;
  }

  require visible;
}

record Pub {
  public int id;
  public int n;
  public string s;
}

table<Row> _rows;
table<Pub> _pubs;
public table<Pub> direct;
public formula rows = iterate _rows;
public formula pubs = iterate _pubs;
public formula top = iterate _pubs where n > 2 order by n desc limit 3;
public formula evens = iterate _rows where score % 2 == 0;
public formula newest = iterate _rows order by id desc limit 2;
public formula above = iterate _rows where score > threshold && text != "c";
public formula named = iterate _pubs where s == "a" || n == 3;
public int threshold = 3;
public formula ranked = iterate _rows order by score desc, text limit 4;
public formula by_text = iterate _pubs order by s, n desc;
public formula first3 = iterate _rows limit 3;
public formula wide = iterate _pubs where n > 1 order by n limit 70000;
public formula picked = iterate _rows where score > threshold order by text desc limit 2;
public bool open_all;
public int ticks;

message Add { int score; string text; bool shown; bool mine; int count; }
message Ref { int id; int v; string text; }
message Flag { bool on; }

@connected {
  return true;
}

channel add(Add a) {
  for (int k = 0; k < a.count; k++) {
    if (a.mine) {
      _rows <- {score: a.score + k, text: a.text, holder: @who, shown: a.shown, note: a.text, secret: a.score};
    } else {
      _rows <- {score: a.score + k, text: a.text, shown: a.shown, note: a.text, secret: a.score};
    }
  }
}

channel edit(Ref r) {
  foreach (x in iterate _rows where id == r.id) {
    if (r.v % 4 == 0) {
      x.score = x.score + 1;
    } else if (r.v % 4 == 1) {
      x.text = r.text;
    } else if (r.v % 4 == 2) {
      x.shown = !x.shown;
    } else {
      x.holder = @who;
    }
  }
}

channel drop(Ref r) {
  (iterate _rows where id == r.id).delete();
}

channel drop_below(Ref r) {
  (iterate _rows where score < r.v).delete();
}

channel open(Flag f) {
  open_all = f.on;
}

channel tick(Flag f) {
  ticks = ticks + 1;
}

channel raise(Ref r) {
  threshold = r.v;
}

channel pub(Ref r) {
  _pubs <- {n: r.v, s: r.text};
  direct <- {n: r.v, s: r.text};
}

channel set_pub(Ref r) {
  foreach (p in iterate _pubs where id == r.id) {
    p.n = r.v;
  }
  foreach (p in iterate direct where id == r.id) {
    p.s = r.text;
  }
}

channel drop_pub(Ref r) {
  (iterate _pubs where id == r.id).delete();
  (iterate direct where id <= r.id).delete();
}

channel both(Ref r) {
  _pubs <- {n: r.v, s: r.text};
  (iterate _pubs where id == r.id).delete();
  _rows <- {score: r.v, text: r.text, shown: true, note: r.text, secret: r.v};
  (iterate _rows where id == r.id).delete();
  foreach (x in iterate _rows where id == r.id + 1) {
    x.score = x.score + r.v;
  }
}
