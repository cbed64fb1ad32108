// A collaborative editor in the style of Adama's (issue 22): the document holds one
// record, the page, and the page holds a table of paragraphs; writers edit them while
// viewers are connected and every change reaches every viewer (a row change inside a
// nested table). Cursors are a map inside the page; a whole page arrives by ingestion.
@static {
  create { return true; }
}

record Paragraph {
  public int id;
  public int position;
  public string text;
  public principal author;
  public bool locked;

  method lock(bool on) {
    locked = on;
  }
}

record Page {
  public string title;
  public int revision;
  table<Paragraph> lines;
  public formula paragraphs = iterate lines order by position;
  public formula count = lines.size();
  public map<string, int> cursors;
}

message Para { string text; }
message Draft { string title; Para[] lines; map<string, int> cursors; }
message Insert { int at; string text; }
message Change { int id; string text; }
message Remove { int id; }
message Cursor { int at; }
message Title { string title; }
message Lock { bool on; }

public Page page;
public int viewers;

@connected {
  viewers++;
  return true;
}

@disconnected {
  viewers--;
  page.cursors.remove(@who.agent());
}

@construct {
  page.title = "untitled";
}

procedure renumber() {
  int k = 0;
  (iterate page.lines order by position).position = k++;
  page.revision++;
}

channel load(Draft d) {
  (iterate page.lines).delete();
  page <- d;  // title, every paragraph as a row, the cursors merged in
  (iterate page.lines where author == @no_one).author = @who;
  renumber();
}

channel insert(Insert i) {
  (iterate page.lines where position >= i.at).position += 1;
  page.lines <- {position: i.at, text: i.text, author: @who};
  renumber();
}

channel change(Change c) {
  foreach (p in iterate page.lines where id == c.id) {
    if (p.locked && p.author != @who) {
      abort;
    }
    p.text = c.text;
    p.author = @who;
  }
  page.revision++;
}

channel remove(Remove r) {
  (iterate page.lines where id == r.id && !locked).delete();
  renumber();
}

channel cursor(Cursor c) {
  page.cursors[@who.agent()] = c.at;
}

channel rename(Title t) {
  page <- {title: t.title};
  page.revision++;
}

channel lock_all(Lock l) {
  (iterate page.lines where author == @who).lock(l.on);
}

test numbering_follows_the_order {
  page.lines <- {position: 5, text: "b"};
  page.lines <- {position: 2, text: "a"};
  renumber();
  list<string> texts = (iterate page.lines order by position).text;
  assert texts[0] == "a" && texts[1] == "b";
  assert page.revision == 1;
}
