// Every kind of write a transaction can make, for tests/test_views_tracker.py:
// scalars, maybe values, lists, maps and records in fields, table rows with
// scalar, map and record slots, an indexed slot, inserts, deletes and aborts.
record Tag {
  public string text;
  public int weight;
}

record Row {
  public int id;
  public int n;
  public string label;
  public maybe<int> extra;
  public map<string, int> counts;
  public Tag tag;
  public int group;

  index group;
}

record Box {
  public int size;
  public map<string, int> marks;
  public Tag tag;
}

table<Row> _rows;
table<Row> _others;
public int a;
public maybe<int> m;
public string s;
public list<int> xs;
public map<string, int> tally;
public Box box;
public formula rows = iterate _rows;

message Op { int k; int v; string t; }

@connected {
  return true;
}

channel set_a(Op o) {
  a = o.v;
  if (o.k == 1) {
    abort;
  }
}

channel same(Op o) {
  a = a;
  s = s;
  (iterate _rows where id == o.k).n = (iterate _rows where id == o.k).n.sum().getOrDefaultTo(0);
}

channel set_m(Op o) {
  if (o.k == 0) {
    m = o.v;
  } else {
    m = @maybe<int>;
  }
}

channel set_s(Op o) {
  s = o.t;
}

channel set_xs(Op o) {
  list<int> fresh = [o.v, o.k];
  xs = fresh;
}

channel put(Op o) {
  tally[o.t] = o.v;
}

channel drop(Op o) {
  tally.remove(o.t);
}

channel boxed(Op o) {
  if (o.k == 0) {
    box.size = o.v;
  } else if (o.k == 1) {
    box.marks[o.t] = o.v;
  } else if (o.k == 2) {
    box.tag.weight = o.v;
  } else {
    box.tag.text = o.t;
  }
}

channel add(Op o) {
  _rows <- {n: o.v, label: o.t, group: o.k};
  if (o.k == 3) {
    _others <- {n: o.v, label: o.t, group: o.k};
  }
  if (o.k == 4) {
    abort;
  }
}

channel edit(Op o) {
  foreach (r in iterate _rows where id == o.k) {
    if (o.v == 0) {
      r.n = r.n + 1;
    } else if (o.v == 1) {
      r.label = o.t;
    } else if (o.v == 2) {
      r.counts[o.t] = o.v;
    } else if (o.v == 3) {
      r.tag.weight = r.tag.weight + 1;
    } else if (o.v == 4) {
      r.group = r.group + 1;
    } else {
      r.extra = o.v;
    }
  }
}

channel remove(Op o) {
  (iterate _rows where id == o.k).delete();
  if (o.v == 1) {
    abort;
  }
}

channel churn(Op o) {
  _rows <- {n: o.v, label: o.t, group: o.k};
  (iterate _rows where group == o.k).delete();
}
