// Field privacy, defaults and readonly fields.
public int score;
public string title = "untitled";
private double rate = 1.5;
int also_private;
principal owner;
maybe<principal> winner;
viewer_is<owner> string note;
viewer_is<winner> string prize;
use_policy<is_owner> int pin;
use_policy<is_owner, is_open> int code;
readonly principal creator;
public readonly string made_by = "anonymous";
public bool open;
public long big = 9223372036854775807L;
public int lowest = -2147483648;
public date due;
public datetime created;
public time alarm;
public timespan remaining;
private dynamic extra;
public map<string, int> votes;

policy is_owner {
  return @who == owner;
}

policy is_open {
  return open;
}

@construct {
  creator = @who;
  owner = @who;
}
