// Tables: ingestion, iterate with every step, bulk assignment, deletes, aggregates.
record Task {
  public int id;
  public string title;
  public principal owner;
  public bool done;
  public int points;
  public int ordering;
}

message NewTask {
  string title;
  int points;
}

table<Task> _tasks;
public int last_id;
public formula open = iterate _tasks where !done order by points desc, title asc offset 1 limit 10;
public formula total = (iterate _tasks).points.sum();
public formula mean = (iterate _tasks where done).points.average();

channel add(NewTask t) {
  _tasks <- t as added;
  last_id = added;
  _tasks <- {title: t.title, owner: @who};
  NewTask[] batch = [{title: "a", points: 1}, {title: "b", points: 2}];
  _tasks <- batch;
  _tasks <- [{title: "c"}, {title: "d"}];
}

channel finish(NewTask t) {
  (iterate _tasks where owner == @who).done = true;
  (iterate _tasks where owner == @who).points += t.points;
  int ordering = 0;
  (iterate _tasks shuffle).ordering = ordering;
  (iterate _tasks where done).delete();
  foreach (task in iterate _tasks where points == 0) {
    task.delete();
  }
}

procedure clear_all() {
  _tasks.delete();
}
