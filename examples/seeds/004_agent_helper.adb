// Seed 004: an AI agent with tools and a session (language.md 4.31). The seed's
// `add_task` was a plain `tool` that inserted into `tasks`, which the seed's own rule
// ("tools can't mutate document state") forbids: advm says E0542 for it. Here the
// tool only reads, and the agent keeps the topic in its mutable field.

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
@description("Whether a task with this name exists")
tool<AddTaskInput, AddTaskOutput> has_task {
return {success: (iterate tasks where name == request.name).size() > 0};
}
@description("Set the current topic")
mutating tool<TopicInput, TopicOutput> set_topic {
last_topic = request.topic;
return {ack: true};
}
}
session<Helper> chat;
