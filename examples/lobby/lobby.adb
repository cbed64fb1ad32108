// A lobby that matches players two by two and creates a game document
// (game.adb) for each pair; each game reports its result back here.
// Serve both: `advm run examples/lobby/` (a space per file: lobby and game).

@static {
  create {
    return true;
  }
}

message Join {
  bool ready;
}

message Finished {
  string game;
  string outcome;
}

record Match {
  public int id;
  public string game;
  public principal x;
  public principal o;
  public string outcome;
  public bool created;
  public string error;
}

space game;

public maybe<principal> waiting;
public table<Match> matches;
public int games_matched;
public int games_created;
public int games_finished;
public int refused;
bool making;

@connected {
  return true;
}

// A player who joins waits for the next one; the pair gets a match, and
// #make creates its game document.
channel join(Join j) {
  if (waiting as first) {
    if (first == @who) {
      abort;
    }
    waiting = @maybe<principal>;
    games_matched++;
    matches <- {game: Document.key() + "-" + games_matched, x: first, o: @who};
    if (!making) {
      making = true;
      transition #make;
    }
  } else {
    waiting = @who;
  }
}

// One game at a time: the creation is made once this state's transaction
// commits, and its outcome comes back as the result awaited here (durably:
// a restart resumes the wait, and the creation is never made twice).
#make {
  list<Match> todo = iterate matches where !created && error == "";
  if (todo[0] as m) {
    let made = game.create(m.game, {x: m.x, o: m.o, lobby: Document.key()});
    if (made.await() as reply) {
      (iterate matches where game == reply.key).created = true;
      games_created++;
    } else {
      (iterate matches where game == m.game).error = made.code() + " " + made.message();
    }
    transition #make;
  } else {
    making = false;
  }
}

// A game's report: only a game document may send it (its principal is
// <key>@doc:game, spec/language.md 4.32).
channel finished(Finished f) {
  if (@who.authority() != "doc:game" || @who.agent() != f.game) {
    refused++;
    abort;
  }
  (iterate matches where game == f.game).outcome = f.outcome;
  games_finished++;
}
