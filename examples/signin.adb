// A sign-up and sign-in web app in the style of Adama's own (issue 22): an account
// record filled by ingesting the sign-up message (optional fields only when present,
// a nested address, a map of settings), a create policy and a channel that read the
// connection's @context (origin and address), and each member's own profile kept
// private to them.
@static {
  // A browser page of another site may not create it; a tool (no origin at all) may.
  create { return @context.origin == "" || @context.origin == "https://app.example"; }
}

message Address {
  string city;
  string country;
}

message SignUp {
  string handle;
  string code;
  maybe<string> display;
  maybe<int> age;
  Address address;
  map<string, bool> settings;
}

message SignIn {
  string handle;
  string code;
}

message Edit {
  maybe<string> display;
  maybe<int> age;
}

record Place {
  public string city;
  public string country;
}

record Account {
  public int id;
  public string handle;
  private string code;
  private principal who;
  public string display;
  viewer_is<who> int age;
  viewer_is<who> Place address;
  viewer_is<who> map<string, bool> settings;
  public bool online;
  public string origin;
}

table<Account> _accounts;

public string app = "members";
public formula members = iterate _accounts order by handle;
public formula online = (iterate _accounts where online).size();
bubble me = iterate _accounts where who == @who;

@connected {
  return @context.origin == "https://app.example";
}

@disconnected {
  (iterate _accounts where who == @who).online = false;
}

channel sign_up(SignUp s) {
  if (s.handle.length() < 2 || (iterate _accounts where handle == s.handle).size() > 0) {
    abort;
  }
  _accounts <- s as nid;
  foreach (a in iterate _accounts where id == nid) {
    a.who = @who;
    a.online = true;
    a.origin = @context.origin;
    if (a.display == "") {
      a.display = s.handle;
    }
  }
}

channel sign_in(SignIn s) {
  list<Account> found = iterate _accounts where handle == s.handle && code == s.code;
  if (found.size() == 0) {
    abort;  // a wrong handle or code: nothing changes
  }
  found.who = @who;
  found.online = true;
  found.origin = @context.origin;
}

channel edit(Edit e) {
  foreach (a in iterate _accounts where who == @who) {
    a <- e;
  }
}

channel sign_out(SignIn s) {
  (iterate _accounts where who == @who).online = false;
}

test sign_up_takes_what_is_there {
  SignUp s = {handle: "zoe", code: "x", address: {city: "Oslo", country: "NO"}};
  _accounts <- s;
  foreach (a in iterate _accounts) {
    assert a.age == 0 && a.address.city == "Oslo";
    Edit e = {age: 30};
    a <- e;
    assert a.age == 30 && a.display == "";
  }
}
