// Dynamic (Adama's LibDynamic): reading JSON values as maybes, making them.
message Payload { dynamic data; }
test dynamics {
  if (Dynamic.toDynamic("{\"n\": 5, \"s\": \"x\", \"t\": \"12\", \"ok\": true, \"z\": null, \"f\": 2.5}") as d) {
    assert (d.i("n").getOrDefaultTo(0) == 5);
    assert (d.i("t").getOrDefaultTo(0) == 12);
    assert (d.str("s").getOrDefaultTo("") == "x");
    assert (d.b("ok").getOrDefaultTo(false));
    assert (d.is_null("z").getOrDefaultTo(false) && !d.is_null("nope").has());
    assert (d.d("f").getOrDefaultTo(0.0) == 2.5 && d.d("n").getOrDefaultTo(0.0) == 5.0);
    assert (!d.i("s").has());
  } else { assert (false); }
  assert (!Dynamic.toDynamic("{oops").has());
  dynamic n = Dynamic.dyn(42);
  assert (n.i().getOrDefaultTo(0) == 42 && n.str().getOrDefaultTo("") == "42");
  assert ((true).dyn().b().getOrDefaultTo(false));
  assert ("hi".dyn().str().getOrDefaultTo("") == "hi");
}

test deep {
  assert (!Dynamic.toDynamic("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]").has());
  assert (Dynamic.toDynamic("[[1]]").has());
}
