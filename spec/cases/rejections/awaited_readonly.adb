// An awaited result is read-only, as in Adama: the answer is what a person sent.
message Answer { int value; }
channel<Answer> answer;
private principal player;
public int got;
#ask {
  future<Answer> f = answer.fetch(player);
  Answer a = f.await();
  a.value = 3;
// expect error E0317 at 9:5
  got = a.value;
}
