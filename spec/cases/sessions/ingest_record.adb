// Ingestion as Adama has it (language.md 6.3): into one record field, a maybe field set only when
// present, a nested message into a nested record, a map and a list of messages into a table.
@static { create { return true; } }
@connected { return true; }
message Addr { string city; int zip; }
message Line { string text; }
message Signup { string name; maybe<int> age; Addr addr; map<string, int> scores; Line[] notes; }
record Address { public string city; public int zip; }
record Note { public int id; public string text; }
record Profile {
  public string name;
  public int age;
  public Address addr;
  public map<string, int> scores;
  public table<Note> notes;
  public formula lines = iterate notes;
}
record Member { public int id; public string name; public int age; public Address addr; }
public Profile profile;
table<Member> _members;
public formula members = iterate _members;
channel signup(Signup s) {
  profile <- s;
  _members <- s;
}
test ingest_keeps_what_is_absent {
  profile.age = 7;
  Signup s = {name: "x", addr: {city: "c", zip: 5}};
  profile <- s;
  assert profile.age == 7;
  assert profile.addr.city == "c";
  profile <- {name: "y"};
  assert profile.name == "y" && profile.addr.zip == 5;
}
