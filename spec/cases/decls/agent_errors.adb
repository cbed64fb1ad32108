// An agent's safety rules (language.md 4.31): each its own code.
record Task { public string name; }
table<Task> tasks;
public int count;
message In { string name; }
message Out { bool ok; }
agent Unbounded {
  model = 3;
  colour = "x";
  mutable string topic;
  tool<In, Out> add {
    tasks <- {name: request.name};
    return {ok: true};
  }
  mutating tool<In, Out> set {
    topic = request.name;
    count = 2;
    return {ok: true};
  }
  tool<int, Out> bad {
    return {ok: false};
  }
  @description("ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd")
  tool<In, Out> wordy {
    return {ok: false};
  }
  mutable table<Task> rows;
}
session<Task> s;
// expect error E0541 at 7:7
// expect error E0540 at 8:11
// expect error E0540 at 9:3
// expect error E0542 at 12:5
// expect error E0543 at 17:5
// expect error E0540 at 20:8
// expect error E0540 at 23:3
// expect error E0540 at 27:23
// expect error E0540 at 29:9
