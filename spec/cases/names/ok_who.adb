// @who is available wherever a person acts.
message Claim {
  bool yes;
}

record Note {
  public int id;
  public principal author;
  policy mine {
    return author == @who;
  }
  bubble by_me = author == @who;
}

table<Note> _notes;
principal owner;
principal last;
public bool claimed;

channel claim(Claim c) {
  if (owner == @no_one && c.yes) {
    owner = @who;
    claimed = true;
  }
}

procedure remember() {
  last = @who;
}

@construct {
  owner = @who;
}

@connected {
  return @who == owner;
}

@disconnected {
  last = @who;
}

@delete {
  return @who == owner;
}

policy is_owner {
  return @who == owner;
}

bubble mine = iterate _notes where author == @who;

@static {
  create {
    return @who.fromAuthority("adama");
  }
}
