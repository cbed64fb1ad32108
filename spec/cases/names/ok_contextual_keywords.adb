// As in Adama, the words that start declarations, members and statements are keywords only
// there; elsewhere they are ordinary names (language.md 2.2).
@static { create { return true; } }
@connected { return true; }
message Note { string text; int record; bool policy; }
record Entry {
  public int id;
  public string message;
  public int method;
  public string channel;
}
table<Entry> _entries;
public string last;
public int function;
public formula entries = iterate _entries;
channel post(Note message) {
  last = message.text;
  int let = message.record;
  let = let + 1;
  function = let;
  string view = "v";
  bool transition = message.policy;
  int iterate = 2;
  int formula = iterate + 1;
  _entries <- {message: message.text, method: formula, channel: view};
  var bubble = {record: 1, procedure: 2};
  function += bubble.record + bubble.procedure;
  if (transition) {
    transition #done;
  }
}
#done {
  last = "done";
}
procedure auto(int x) -> int {
  return x;
}
test contextual {
  int message = 3;
  assert message == 3;
  assert auto(2) == 2;
}
