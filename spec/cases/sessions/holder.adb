// Adama's holder<M> (language.md 3.9.1): the field is its message, seen as that message's JSON;
// write() is the held message, changed in place (a record's holder too).
@static { create { return true; } }
@connected { return true; }
message Settings { int volume = 5; string theme = "dark"; }
public holder<Settings> settings;
channel set(Settings s) { settings = s; }
channel louder(Settings ignored) { settings.volume += 1; }
channel quieter(Settings ignored) { settings.write().volume -= 2; }
record Player { public int id; public holder<Settings> prefs; }
table<Player> players;
test holds {
  assert settings.volume == 5;
  settings.theme = "light";
  Settings s;
  s.volume = 9;
  settings = s;
  assert settings.volume == 9;
  assert settings.theme == "dark";
  settings.write().theme = "sea";
  assert settings.write().theme == "sea" && settings.theme == "sea";
  players <- {};
  foreach (p in iterate players) {
    p.prefs.write().volume = 3;
  }
  foreach (p in iterate players) {
    assert p.prefs.volume == 3;
  }
}
