// Seed 004 ("Agentic Behavior Reference"): the runtime enters each state by
// itself after a transition.

record Task {
public string name;
public string status;
}
table<Task> tasks;
#start {
// do initial setup
transition #waiting;
}
#waiting {
// the runtime automatically enters this state
// after #start completes
}
