// A task list with an assistant: seed 004's `Helper` agent (spec/language.md 4.31).
// Members talk to the assistant through the public `chat` session (protocol
// `agent/ask`, or the `say` channel below); every turn, tool call and ending reaches
// every member as a delta. The seed's rule holds: tools cannot change the document.
// So the assistant *proposes* tasks in its mutable `proposal` (a `mutating tool`
// writes only the agent's mutables), and a member accepts a proposal with `accept`,
// which is the one place tasks are added. A failed ask puts the proposal back as it was.
// Serve it with a model: `advm run examples/taskmanager.adb --model-url URL`.

@static {
  create { return !@who.isAnonymous(); }
}

@connected {
  return !@who.isAnonymous();
}

record Task {
  public int id;
  public string name;
  public string status;
  public principal owner;
}

public table<Task> tasks;

public formula todo = (iterate tasks where status == "todo").size();
public formula done = (iterate tasks where status == "done").size();

message AddTaskInput { string name; }
message AddTaskOutput { bool success; }
message TopicInput { string topic; }
message TopicOutput { bool ack; }
message ListInput { string status; }
message ListOutput { int count; string names; }
message Say { string text; }
message Accept { bool yes; }
message Finish { int id; }

agent Helper {
  instructions = "You are a helpful task manager. Propose one task at a time with add_task; a person accepts it. Use list_tasks to see the list.";
  model = "gpt-4o";
  temperature = 0.7;
  max_tokens = 1024;
  max_tool_rounds = 5;
  token_budget = 20000;
  mutable string last_topic;
  mutable string proposal;

  @description("Propose a new task (a person accepts it)")
  mutating tool<AddTaskInput, AddTaskOutput> add_task {
    if (request.name.trim() == "") {
      return {success: false};
    }
    proposal = request.name.trim();
    return {success: true};
  }

  @description("Set the current topic")
  mutating tool<TopicInput, TopicOutput> set_topic {
    last_topic = request.topic;
    return {ack: true};
  }

  @description("List the tasks with a status: todo or done")
  tool<ListInput, ListOutput> list_tasks {
    list<string> names = (iterate tasks where status == request.status).name;
    return {count: names.size(), names: String.join(names, ", ")};
  }
}

public session<Helper> chat;

// The same as `agent/ask`, for clients that only send messages.
channel say(principal who, Say s) {
  if (!chat.ask(who, s.text)) {
    abort;
  }
}

// A member takes (or drops) the assistant's proposal.
channel accept(principal who, Accept a) {
  if (chat.proposal == "") {
    abort;
  }
  if (a.yes) {
    tasks <- {name: chat.proposal, status: "todo", owner: who};
  }
  chat.proposal = "";
}

channel finish(principal who, Finish f) {
  if ((iterate tasks where id == f.id && status == "todo").size() == 0) {
    abort;
  }
  (iterate tasks where id == f.id).status = "done";
}
