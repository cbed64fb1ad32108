// Adama's field flags: `lossy` and `unique` (on id) on message fields, `required`
// on record and document fields, `index` in messages: accepted, no run-time effect here.
message Form {
  int id unique;
  string note = "none" lossy;
  index note;
}
record Row {
  public int id;
  public string name required;
}
public string title required;
table<Row> rows;

test flags {
  Form f;
  assert (f.note == "none");
  rows <- {name: "x"};
  assert (rows.size() == 1);
}
