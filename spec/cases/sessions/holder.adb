// Adama's holder<M> (language.md 3.9.1): the field is its message, seen as that message's JSON.
@static { create { return true; } }
@connected { return true; }
message Settings { int volume = 5; string theme = "dark"; }
public holder<Settings> settings;
channel set(Settings s) { settings = s; }
channel louder(Settings ignored) { settings.volume += 1; }
test holds {
  assert settings.volume == 5;
  settings.theme = "light";
  Settings s;
  s.volume = 9;
  settings = s;
  assert settings.volume == 9;
  assert settings.theme == "dark";
}
