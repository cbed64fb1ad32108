// preempt and block (language.md 6.9.1): #wait gives up until the gate opens;
// #ask names #gave_up, which runs as soon as its await has to wait.
@static { create { return true; } }
@connected { return true; }

message Gate { int n; }
message Ready { bool ok; }

public int gate;
public int tries;
public int runs;
public string note;
principal boss;
channel<Ready> confirm;

@construct {
  boss = @who;
  transition #wait;
}

channel open_gate(Gate g) {
  gate = g.n;
}

#wait {
  tries += 1;
  if (gate == 0) {
    block;
  }
  runs += 1;
  transition #ask;
}

#ask {
  preempt #gave_up;
  note = "asking";
  Ready r = confirm.fetch(boss).await();
  note = "answered";
}

#gave_up {
  note = note + ", gave up";
}
