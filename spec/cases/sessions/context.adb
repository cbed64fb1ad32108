// A scripted session sets @context (origin and ip) on create, connect and send (spec/sessions.md 2);
// @static policies, @connected, @disconnected and channels read it, as in Adama (language.md 5.9).
@static {
  create { return @context.origin == "https://ok.example"; }
}
@connected {
  last_origin = @context.origin;
  return @context.ip != "10.0.0.66";
}
public string last_origin;
public string last_ip;
message Ping { int n; }
channel ping(Ping p) {
  last_ip = @context.ip;
  if (@context.origin != "https://ok.example") {
    abort;
  }
}
