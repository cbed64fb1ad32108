// @web handlers (spec/language.md 4.28): paths of fixed parts and typed
// parameters, a message only for put, one body per response, get only reads.
public int hits;
message Hook { string event; }
@web get /a {
  hits = 3;
  // expect error E0317 at 6:3
  return {html: "x", json: Dynamic.dyn(1)};
  // expect error E0531 at 8:10
}
@web get /a { return {html: "y"}; }
// expect error E0531 at 11:1
@web delete /b (Hook h) { return {}; }
// expect error E0531 at 13:22
@web get /c/$x:bool/$r*/d { return {}; }
// expect error E0531 at 15:13
// expect error E0531 at 15:21
@web put /e/$x:int (int x) { return {}; }
// expect error E0531 at 18:25
// expect error E0531 at 18:25
