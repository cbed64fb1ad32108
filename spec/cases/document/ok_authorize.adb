// Sign-in handlers (language.md 4.20.1): both forms; names such as `message` stay names.
record Member {
  public int id;
  public string name;
  private string secret;
}
table<Member> _members;
message Login { string name; string secret; }
@authorize (user, message) {
  if ((iterate _members where name == user && secret == message).size() == 1) {
    return user;
  }
  abort;
}
@authorization (Login l) {
  foreach (m in iterate _members where name == l.name && secret == l.secret) {
    return "member" + m.id;
  }
  abort;
}
