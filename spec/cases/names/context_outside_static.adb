// @context is the connection's: in @static policies, @connected, @disconnected and channels
// (language.md 5.9); not in a procedure, which any of them (or a state) may call.
procedure origin_of() -> string {
  return @context.origin;
  // expect error E0213 at 4:10
}
