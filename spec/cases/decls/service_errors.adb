// A service's methods take and give messages; calls name a method, a caller
// (a principal or @no_cache) and the input message (spec/language.md 4.24).
message Req { string q; }
message Res { int n; }
service lookup {
  method<Req, Res> find idempotent;
  method<Req, Res> find;
  method<int, Res> bad;
  method<Req, Res> odd retried;
}
service empty {
}
public formula f = lookup.fnid(@no_cache, {q: "x"});
public formula g = lookup.find(@no_cache, {n: 1});
function pure() -> int {
  let r = lookup.find(@no_one, {q: "x"});
  return 1;
}
// expect error E0530 at 7:20
// expect error E0530 at 8:10
// expect error E0530 at 9:3
// expect error E0530 at 11:9
// expect error E0330 at 13:27
// expect error E0313 at 14:44
// expect error E0330 at 16:18
