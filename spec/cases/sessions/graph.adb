// Adama's graph indexing (language.md 4.25): the members of each group join users to groups,
// and a bubble traverses from the viewer's user rows to their groups as members come.
@static { create { return true; } }
@connected { return true; }
record User {
  public int id;
  public string name;
  public principal account;
}
table<User> _users;

record Member {
  int user_id;
}

record Group {
  public int id;
  public string name;
  table<Member> _members;

  join _users_to_groups via _members[x] from x.user_id to id;
}

table<Group> _groups;
assoc<User, Group> _users_to_groups;

bubble my_groups = iterate _users where account == @who traverse _users_to_groups;

message Join { int user; int group; }
message Named { string name; }
channel add_user(Named n) { _users <- {name: n.name, account: @who}; }
channel add_group(Named n) { _groups <- {name: n.name}; }
channel join(Join j) {
  foreach (g in iterate _groups where id == j.group) {
    g._members <- {user_id: j.user};
  }
}
