// Repeated events (language.md 4.18): every @construct, @connected and @disconnected runs, in the
// order written; @construct's that take the message all get it; a viewer is let in when any
// @connected returns true (each one still runs).
@static { create { return true; } }

message Hello { string name; int n; }
public int total;
public string trail;

@construct { trail = "a"; }
@construct (Hello h) { trail = trail + "b" + h.name; total = h.n; }
@construct (Hello again) { trail = trail + "c" + again.n; }

@connected { return false; }
@connected (who) { trail = trail + "+" + who.agent(); return who.agent() == "alice"; }
@connected { trail = trail + "!"; return false; }

@disconnected { trail = trail + "-"; }
@disconnected (who) { trail = trail + "~" + who.agent(); }
