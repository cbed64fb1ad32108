// Adama's graph indexing (language.md 4.25): assoc, joins in a record and at the top level,
// traverse on a list of rows (each row reached once, in its table's order).
record User {
  public int id;
  public string name;
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

record Follow {
  int from_user;
  int to_user;
}
table<Follow> _follows;
assoc<User, User> _following;
join _following via _follows[f] from f.from_user to f.to_user;

test graph {
  _users <- {name: "a"};
  _users <- {name: "b"};
  _users <- {name: "c"};
  _groups <- {name: "g1"};
  _groups <- {name: "g2"};
  _groups <- {name: "g3"};
  foreach (g in iterate _groups where id != 2) {
    g._members <- {user_id: 1};
  }
  foreach (g in iterate _groups where id == 2) {
    g._members <- {user_id: 2};
  }
  list<Group> gs = iterate _users where id == 1 traverse _users_to_groups;
  assert gs.size() == 2;
  if ((gs order by id desc)[0] as last) {
    assert last.name == "g3";
  } else {
    assert false;
  }
  list<Group> all = iterate _users traverse _users_to_groups;
  assert all.size() == 3;
  assert (iterate _users where id == 3 traverse _users_to_groups).size() == 0;
  _follows <- {from_user: 1, to_user: 3};
  _follows <- {from_user: 1, to_user: 2};
  _follows <- {from_user: 2, to_user: 3};
  list<User> two_hops = iterate _users where id == 1 traverse _following traverse _following;
  assert two_hops.size() == 1;
  assert (iterate _users where id == 1 traverse _following where name == "c").size() == 1;
}

// Two tables of the To record: each reached id once, by id, from the first table that has it.
record B {
  public int id;
  public string tag;
}
table<B> bs1;
table<B> bs2;
record E {
  int a;
  int b;
}
table<E> es;
assoc<User, B> link;
join link via es[e] from e.a to e.b;

test two_tables {
  _users <- {name: "u"};
  bs1 <- {tag: "x1"};
  bs1 <- {tag: "x2"};
  bs2 <- {tag: "y1"};
  bs2 <- {tag: "y2"};
  bs2 <- {tag: "y3"};
  es <- {a: 1, b: 3};
  es <- {a: 1, b: 2};
  es <- {a: 1, b: 1};
  list<B> got = iterate _users traverse link;
  assert got.size() == 3;
  if (got[0] as g0) {
    assert g0.tag == "x1";
  }
  if (got[1] as g1) {
    assert g1.tag == "x2";
  }
  if (got[2] as g2) {
    assert g2.tag == "y3";
  }
}
