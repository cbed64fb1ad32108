// Lifecycle handlers in the seeds' form and in Adama's bare form.
message Init {
  string title;
}

readonly principal owner;
public string title;
public int online;
public int loads;

@construct (Init m) {
  owner = @who;
  title = m.title;
}

@load {
  loads += 1;
}

@connected (who) {
  online += 1;
  return who == owner || online < 10;
}

@disconnected {
  online -= 1;
}

@delete {
  return @who == owner;
}
