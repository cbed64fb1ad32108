// Seed 001: two requests in flight at once; the answers arrive in any order.

message Answer {
  string text;
}

channel<Answer> answer;
public principal player1;
public principal player2;
public string transcript;

procedure processAnswers(Answer a1, Answer a2) {
  transcript = a1.text + " / " + a2.text;
}

#getResponses {
  future<Answer> f1 = answer.fetch(player1);
  future<Answer> f2 = answer.fetch(player2);

  // Both players respond independently. Order doesn't matter.
  Answer a1 = f1.await();
  Answer a2 = f2.await();

  processAnswers(a1, a2);
  transition #nextPhase;
}

#nextPhase {
}
