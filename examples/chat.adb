// A chat room.
//
// Signed-in people join by connecting; they post lines, like other people's
// lines and pick a display name. Everyone sees the members who are online and
// the last fifty lines; each viewer's own statistics come through bubbles,
// read from the viewer's member row: the channels keep the counts there as the
// lines change, so a viewer's bubbles cost the same at ten lines and at ten
// thousand (they used to count the viewer's lines on every change).

@static {
  create {
    return !@who.isAnonymous();
  }
  invent {
    return false;
  }
  maximum_history = 1000;
}

record Member {
  public int id;
  public principal member;
  public string name;
  public bool online;
  private datetime joined;
  private int lines_posted;
  private int lines_kept;      // the member's lines still in _lines
  private int likes_received;  // the likes of those lines

  index member;
}

record Line {
  public int id;
  public principal author;
  public string author_name;
  public string text;
  public datetime when;
  public int likes;

  index author;
}

message Say {
  string text;
}

message Rename {
  string name;
}

message Like {
  int line;
}

message Topic {
  string topic;
}

readonly principal owner;
public string topic = "general";
public int total_lines;

table<Member> _members;
table<Line> _lines;

public formula online = iterate _members where online order by name;
public formula online_count = (iterate _members where online).size();
public formula recent = iterate _lines order by id desc limit 50;

bubble me = iterate _members where member == @who;
bubble my_line_count = (iterate _members where member == @who).lines_kept.sum();
bubble my_likes = (iterate _members where member == @who).likes_received.sum();

@construct {
  owner = @who;
}

// The first visit adds a member named after the principal's agent; later
// visits only mark them online again.
@connected {
  if (@who.isAnonymous()) {
    return false;
  }
  if ((iterate _members where member == @who).size() == 0) {
    _members <- {member: @who, name: @who.agent(), online: true, joined: Time.datetime()};
  } else {
    (iterate _members where member == @who).online = true;
  }
  return true;
}

@disconnected {
  (iterate _members where member == @who).online = false;
}

function tidy(string text) -> string {
  return text.trim();
}

function name_ok(string name) -> bool {
  int n = tidy(name).length();
  return n > 0 && n <= 32;
}

procedure name_of(principal p) -> string readonly {
  list<Member> found = iterate _members where member == p;
  if (found[0] as m) {
    return m.name;
  }
  return p.agent();
}

channel say(principal who, Say msg) {
  string text = tidy(msg.text);
  if (text.length() == 0 || text.length() > 500) {
    abort;
  }
  _lines <- {author: who, author_name: name_of(who), text: text, when: Time.datetime()};
  (iterate _members where member == who).lines_posted += 1;
  (iterate _members where member == who).lines_kept += 1;
  total_lines++;
}

// Liking your own line does nothing; liking a line that does not exist is refused.
channel like(principal who, Like msg) {
  list<Line> found = iterate _lines where id == msg.line;
  if (found[0] as line) {
    if (line.author != who) {
      line.likes += 1;
      (iterate _members where member == line.author).likes_received += 1;
    }
  } else {
    abort;
  }
}

channel rename(principal who, Rename msg) {
  if (!name_ok(msg.name)) {
    abort;
  }
  string name = tidy(msg.name);
  (iterate _members where member == who).name = name;
  (iterate _lines where author == who).author_name = name;
}

channel set_topic(principal who, Topic msg) {
  if (who != owner) {
    abort;
  }
  topic = tidy(msg.topic);
  @debug("topic set to {0} by {1}", topic, who);
}

// Only the most recent thousand lines are kept.
@cron trim daily 4:00 {
  foreach (old in iterate _lines order by id desc offset 1000) {
    (iterate _members where member == old.author).lines_kept -= 1;
    (iterate _members where member == old.author).likes_received -= old.likes;
  }
  (iterate _lines order by id desc offset 1000).delete();
}

test names_are_checked {
  assert (name_ok(" ada "));
  assert (!name_ok("   "));
}
