// An assoc links records; a join names an assoc and a table, its ends are row ids (ints);
// traverse starts from the assoc's From rows, and only where the document may be read.
record User {
  public int id;
  public string name;
}
table<User> _users;
message Note { string text; }
record Member {
  int user_id;
  string label;
}
record Group {
  public int id;
  table<Member> _members;
  int count;
  join nowhere via _members[x] from x.user_id to id;
  // expect error E0201 at 17:8
  join links via count[x] from x.user_id to id;
  // expect error E0307 at 19:18
  join links via _members[x] from x.label to id;
  // expect error E0301 at 21:35
}
table<Group> _groups;
assoc<User, Group> links;
assoc<User, Note> bad;
// expect error E0507 at 26:13

function walk(list<User> us) -> int {
  return (us traverse links).size();
  // expect error E0318 at 30:14
}

formula wrong_start = iterate _groups traverse links;
// expect error E0301 at 34:39
formula unknown = iterate _users traverse lnks;
// expect error E0201 at 36:34
