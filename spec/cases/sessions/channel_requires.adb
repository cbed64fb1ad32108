// A channel's requires<policy>: a sender the policy refuses is turned away
// (the message aborts); `open` is accepted.
message Note { string text; }
public principal owner;
public int notes;
policy is_owner { return @who == owner; }
@static { create { return true; } }
@connected { return true; }
@construct { owner = @who; }
channel add(Note n) open requires<is_owner> {
  notes++;
}

bubble everyone = notes;
