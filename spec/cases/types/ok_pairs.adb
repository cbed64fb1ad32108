// pair<K, V> and @pair k -> v (Adama's): the type of a map entry, made or returned.
function best(map<string, int> m) -> pair<string, int> {
  pair<string, int> top = @pair "" -> -1;
  foreach (kv in m) {
    if (kv.value > top.value) { top = kv; }
  }
  return top;
}
test pairs {
  map<string, int> m;
  m["a"] = 3;
  m["b"] = 7;
  pair<string, int> p = best(m);
  assert (p.key == "b" && p.value == 7);
  let q = @pair 1 -> "one";
  assert (q.key == 1 && q.value == "one");
}
