// Awaiting in a state reached through invoke; rollback with abort after an await.
message Approval {
  bool approve;
  string note;
}

channel<Approval> approval;
private principal manager;
public string state_note;
public int approvals;

#start {
  invoke #ask;
  transition #done;
}

#ask {
  state_note = "asked the manager";
  Approval a = approval.fetch(manager).await();
  if (!a.approve && a.note.length() == 0) {
    abort;
  }
  approvals += 1;
  state_note = a.note;
}

#done {
}
