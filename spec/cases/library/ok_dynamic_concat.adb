// `+` with a string and a dynamic concatenates the dynamic's JSON (language.md 5.6): compact,
// a string in quotes, non-ASCII as it is. It type-checked and then failed at run time with
// "expected a string, found int" before.
public string log = "start";
public formula shown = "n=" + Dynamic.dyn(1);
test dynamic_text {
  assert ("x" + Dynamic.dyn(1) == "x1");
  assert (Dynamic.dyn(2) + "z" == "2z");
  assert ("s=" + Dynamic.dyn("y") == "s=\"y\"");
  assert ("b" + Dynamic.dyn(true) + Dynamic.dyn(2.5) == "btrue2.5");
  dynamic d = Dynamic.toDynamic("{\"k\": [1, 2.5, \"é\", null], \"o\": {}}").getOrDefaultTo(Dynamic.dyn(0));
  assert ("d=" + d == "d={\"k\":[1,2.5,\"é\",null],\"o\":{}}");
  log += Dynamic.dyn(3);
  assert (log == "start3");
  assert (shown == "n=1");
}
