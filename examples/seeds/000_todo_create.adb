// Seed 000 ("Why Your Backend Should Be a Sleeping Virtual Machine"):
// the schema and the logic in one document.

message CreateTodo {
  string text;
}

record Todo {
public int id;
public string text;
public bool completed;
public principal owner;
}
table<Todo> todos;
channel create(CreateTodo msg) {
todos <- { text: msg.text, completed: false, owner: @who };
}
