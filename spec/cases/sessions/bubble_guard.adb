// bubble<p, q> (language.md 4.9): a bubble shown only to the viewers every policy admits; the
// others do not get it at all, and it comes and goes as the policies' answers change.
@static { create { return true; } }
@connected { return true; }

public principal host;
public bool open_to_all;
@construct { host = @who; }

policy is_host { return @who == host || open_to_all; }
policy signed_in { return !@who.isAnonymous(); }

bubble<is_host> secret = "the code is 7, " + @who.agent();
bubble<is_host, signed_in> both = 1;
bubble hello = "hi " + @who.agent();

record Seat {
  public int id;
  public principal who;
  policy taken { return who == @who; }
  bubble<taken> note = "yours";
}
public table<Seat> seats;

message Sit {}
channel sit(Sit s) { seats <- {who: @who}; }
message Open { bool on; }
channel open(Open o) { if (@who == host) { open_to_all = o.on; } }
