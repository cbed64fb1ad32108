// Seed 004: the lifecycle hooks the runtime calls by itself.

record Task {
  public string name;
  public string status;
}
table<Task> tasks;
public int score;

@construct {
// called once when the document is created
score = 0;
}
@connected (who) {
// return true to allow the connection
return true;
}
@disconnected (who) {
// cleanup when a client disconnects
}
@delete {
// return true to allow deletion
return tasks.size() == 0;
}
