// Seed 004: an AI agent with tools and a session. Agents and sessions are
// not supported yet: advm parses this document and reports E0901.

record Task {
  public string name;
  public string status;
}
table<Task> tasks;

message AddTaskInput { string name; }
message AddTaskOutput { bool success; }
message TopicInput { string topic; }
message TopicOutput { bool ack; }
agent Helper {
instructions = "You are a helpful task manager.";
model = "gpt-4o";
temperature = 0.7;
max_tokens = 1024;
max_tool_rounds = 5;
mutable string last_topic;
@description("Add a new task")
tool<AddTaskInput, AddTaskOutput> add_task {
tasks <- {name: request.name, status: "todo"};
return {success: true};
}
@description("Set the current topic")
mutating tool<TopicInput, TopicOutput> set_topic {
last_topic = request.topic;
return {ack: true};
}
}
session<Helper> chat;
