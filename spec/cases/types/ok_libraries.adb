// The standard library in the places it is allowed.
public int roll;
public string shout;
public long started;
public datetime at;
public date today;
public bool zoned;

@construct {
  roll = Random.genBoundInt(6) + 1;
  shout = "hello".upper() + "!".multiply(3);
  started = Time.now();
  at = Time.datetime();
  today = Time.today();
  zoned = Time.setZone("UTC");
}

function rounded(double d) -> int {
  return Math.toInt(Math.round(d)) + Math.abs(-3) + Math.max(1, 2);
}

function text(string s) -> int {
  if (s.left(3) as head) {
    return head.length() + s.indexOf("x") + s.trim().split(",").size();
  }
  return String.charOf(65).length();
}

function numbers(double d, long l) -> double {
  return d.abs() + d.floor() + d.sqrt() + l.abs() + Math.sqrt(2) + d.roundTo(2);
}

procedure info() -> string readonly {
  return Document.key() + Document.space() + Time.zone();
}
