// A shared todo list.
//
// Anyone who connects may add items; only the person who added an item may
// edit it, complete it, annotate it or delete it. Everyone sees the whole
// list except the items their owners keep private; each viewer also gets their
// own items and counts through bubbles, and a note on an item is shown to its
// owner alone.

@static {
  create {
    return !@who.isAnonymous();
  }
  maximum_history = 200;
}

record Todo {
  public int id;
  public string text;
  public bool completed;
  public principal owner;
  public bool secret;
  private datetime created;
  viewer_is<owner> string note;

  // A secret item is left out of every list anyone but its owner receives.
  policy shown {
    return !secret || owner == @who;
  }
  require shown;

  // Most lookups are "the items of this person".
  index owner;
}

message CreateTodo {
  string text;
  bool secret;
}

message EditTodo {
  int id;
  string text;
}

message TodoId {
  int id;
}

message NoteTodo {
  int id;
  string note;
}

message Rename {
  string title;
}

message Confirm {
  bool yes;
}

readonly principal creator;
public string title = "Todo";
public int created_total;

table<Todo> _todos;

public formula todos = iterate _todos;
// The counts everyone sees leave secret items out too.
public formula open_count = (iterate _todos where !secret && !completed).size();
public formula done_count = (iterate _todos where !secret && completed).size();

bubble mine = iterate _todos where owner == @who;
bubble my_open_count = (iterate _todos where owner == @who && !completed).size();

@construct {
  creator = @who;
}

@connected {
  return !@who.isAnonymous();
}

// Text is trimmed; empty or very long items are refused by the callers.
function clean(string text) -> string {
  return text.trim();
}

function acceptable(string text) -> bool {
  int n = text.length();
  return n > 0 && n <= 280;
}

// Aborts unless the sender owns the item: every edit goes through here.
procedure require_mine(int todo_id) aborts {
  if ((iterate _todos where id == todo_id && owner == @who).size() == 0) {
    abort;
  }
}

channel create(CreateTodo msg) {
  string text = clean(msg.text);
  if (!acceptable(text)) {
    abort;
  }
  _todos <- {text: text, completed: false, owner: @who, secret: msg.secret, created: Time.datetime()};
  created_total++;
}

channel edit(EditTodo msg) {
  require_mine(msg.id);
  string text = clean(msg.text);
  if (!acceptable(text)) {
    abort;
  }
  (iterate _todos where id == msg.id).text = text;
}

channel complete(TodoId msg) {
  require_mine(msg.id);
  (iterate _todos where id == msg.id).completed = true;
}

channel reopen(TodoId msg) {
  require_mine(msg.id);
  (iterate _todos where id == msg.id).completed = false;
}

channel annotate(NoteTodo msg) {
  require_mine(msg.id);
  (iterate _todos where id == msg.id).note = msg.note.trim();
}

channel remove(TodoId msg) {
  require_mine(msg.id);
  (iterate _todos where id == msg.id).delete();
}

channel clear_completed(principal who, Confirm msg) {
  if (msg.yes) {
    (iterate _todos where owner == who && completed).delete();
  }
}

channel rename(Rename msg) {
  if (@who != creator || !acceptable(clean(msg.title))) {
    abort;
  }
  title = clean(msg.title);
}

// Completed items are swept every night so the list stays short.
@cron sweep daily 3:00 {
  (iterate _todos where completed).delete();
}

@delete {
  return @who == creator;
}

test clean_trims {
  assert (clean("  milk ") == "milk");
  assert (!acceptable(""));
}
