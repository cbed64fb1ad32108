// Adama's @null (language.md 3.1): a dynamic holding JSON null, the default of a dynamic.
public dynamic d;
public dynamic e = @null;
test nulls {
  dynamic x = @null;
  assert ("" + x) == "null";
  d = x;
  d = @null;
  assert ("" + d) == "null" && ("" + e) == "null";
}
