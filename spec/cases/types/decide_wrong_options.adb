message M {
  int x;
}

channel<M> ask;
principal p;

#s {
  if (ask.decide(p, [1, 2]).await() as m) {
    // expect error E0301 at 9:22
    // expect error E0301 at 9:25
  }
}
