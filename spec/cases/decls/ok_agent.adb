// Seed 004's agent (language.md 4.31): settings, a mutable field, a tool that reads and a
// mutating tool that writes the mutable; a session field holds the conversation.
record Task {
  public string name;
  public string status;
}
public table<Task> tasks;
message CountInput { string status; }
message CountOutput { int count; }
message TopicInput { string topic; }
message TopicOutput { bool ack; }
message Say { string text; }

agent Helper {
  instructions = "You are a helpful task manager.";
  model = "gpt-4o";
  temperature = 0.7;
  max_tokens = 1024;
  max_tool_rounds = 5;
  token_budget = 20000;
  staleness_timeout = 60;
  mutable string last_topic;
  @description("Count the tasks with a status")
  tool<CountInput, CountOutput> count {
    return {count: (iterate tasks where status == request.status).size()};
  }
  @description("Set the current topic")
  mutating tool<TopicInput, TopicOutput> set_topic {
    last_topic = request.topic;
    return {ack: true};
  }
}

public session<Helper> chat;

channel say(principal who, Say s) {
  if (!chat.ask(who, s.text)) {
    abort;
  }
}
