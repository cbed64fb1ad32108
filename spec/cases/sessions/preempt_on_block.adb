// preempt then block (language.md 6.9.1): what the block wrote commits and the named state runs;
// block after an await that passed acts as abort there: the answer is refused, the ask reopens.
@static { create { return true; } }
@connected { return true; }

message Pick { int n; }

public int wrote;
public string note;
public int picked;
principal boss;
channel<Pick> pick;

@construct {
  boss = @who;
  transition #first;
}

#first {
  preempt #second;
  wrote = 1;
  block;
}

#second {
  note = "second ran";
  transition #ask;
}

#ask {
  Pick p = pick.fetch(boss).await();
  if (p.n < 0) {
    block;
  }
  picked = p.n;
}
