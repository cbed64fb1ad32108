record Item {
  private int id;
  private principal holder;
  public string label;
  viewer_is<holder> string note;
  use_policy<is_holder> int pin;
  private string hidden;
  use_policy<is_owner> string owner_only;
  public formula shout = label + "!";

  policy is_holder {
    return holder == @who;
  }

  policy shown {
    return !locked || holder == @who;
  }

  require shown;
}

table<Item> _items;
public formula items = iterate _items;
use_policy<is_owner> formula owner_items = iterate _items where label != "";
principal reviewer;
viewer_is<reviewer> formula review_items = iterate _items;
public formula total = (iterate _items).size();
public formula labels = (iterate _items).label;
public formula stamp = Time.now();
principal owner;
public int score;
private string vault;
viewer_is<owner> string owner_note;
use_policy<is_owner> int owner_pin;
public bool locked;
public map<string, int> tally;
bubble mine = iterate _items where holder == @who;
bubble mine_count = (iterate _items where holder == @who).size();

policy is_owner {
  return @who == owner;
}

message Add { string label; string note; int pin; string hidden; string owner_only; bool for_me; }
message Edit { int id; int what; string text; int pin; }
message Ref { int id; }
message Set { int what; int score; string text; int pin; }
message Flag { bool on; }
message Key { string key; }

@construct {
  owner = @who;
}

@connected {
  return true;
}

channel add(Add a) {
  principal h = owner;
  if (a.for_me) {
    h = @who;
  }
  _items <- {holder: h, label: a.label, note: a.note, pin: a.pin, hidden: a.hidden, owner_only: a.owner_only};
}

channel edit(Edit e) {
  foreach (it in iterate _items where id == e.id) {
    if (e.what == 0) {
      it.label = e.text;
    } else if (e.what == 1) {
      it.note = e.text;
    } else if (e.what == 2) {
      it.pin = e.pin;
    } else if (e.what == 3) {
      it.hidden = e.text;
    } else {
      it.owner_only = e.text;
    }
  }
}

channel give(Ref r) {
  foreach (it in iterate _items where id == r.id) {
    it.holder = @who;
  }
}

channel remove(Ref r) {
  (iterate _items where id == r.id).delete();
}

channel set(Set s) {
  if (s.what == 0) {
    score = s.score;
  } else if (s.what == 1) {
    vault = s.text;
  } else if (s.what == 2) {
    owner_note = s.text;
  } else {
    owner_pin = s.pin;
  }
}

channel lock(Flag f) {
  locked = f.on;
}

channel claim(Flag f) {
  owner = @who;
}

channel review(Flag f) {
  reviewer = @who;
}

channel count(Key k) {
  if (tally[k.key] as n) {
    tally[k.key] = n + 1;
  } else {
    tally[k.key] = 1;
  }
}
