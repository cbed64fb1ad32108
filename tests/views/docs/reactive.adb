// Formulas and what they read, for tests/test_views_reactive.py.
record Task {
  public int id;
  public string title;
  public bool done;
  private principal owner;
  use_policy<mine> int effort;

  policy mine {
    return owner == @who;
  }
}

table<Task> _tasks;
public table<Task> shown_tasks;

// A record held in a field (not a table row): its formula and policy are
// evaluated afresh, never cached by identity.
record Profile {
  public int score;
  public formula doubled = score * 2;
  private principal holder;
  use_policy<held> int pin;

  policy held {
    return holder == @who;
  }
}

public Profile profile;
public int a;
public int b;
private int c;
principal boss;
public formula twice_a = a * 2;
public formula sum = a + b;
public formula sum_plus = sum + 1;
private formula lazy = b + 1;
public formula open = (iterate _tasks where !done).size();
public formula tasks = iterate _tasks;
public formula clock = Time.now();
public formula via_procedure = read_c();
use_policy<is_boss> int salary = 100;
bubble mine_open = (iterate _tasks where owner == @who && !done).size();

procedure read_c() -> int readonly {
  return c;
}

policy is_boss {
  return @who == boss;
}

message Set { int value; }
message Add { string title; int effort; }
message Ref { int id; }

@construct {
  boss = @who;
}

@connected {
  return true;
}

channel set_a(Set s) {
  a = s.value;
}

channel set_b(Set s) {
  b = s.value;
}

channel set_c(Set s) {
  c = s.value;
}

channel add(Add t) {
  _tasks <- {title: t.title, owner: @who, effort: t.effort};
}

channel finish(Ref r) {
  foreach (t in iterate _tasks where id == r.id) {
    t.done = true;
  }
}

channel rename(Ref r) {
  foreach (t in iterate _tasks where id == r.id) {
    t.title = "renamed";
  }
}

channel score(Set s) {
  profile.score = s.value;
  profile.pin = s.value + 1000;
}

channel hold(Ref r) {
  profile.holder = @who;
}

channel show(Add t) {
  shown_tasks <- {title: t.title, owner: @who, effort: t.effort};
}

channel promote(Ref r) {
  boss = @who;
}
