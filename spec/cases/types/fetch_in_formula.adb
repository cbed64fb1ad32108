message M {
  int x;
}

channel<M> ask;
principal p;
public formula f = ask.fetch(p);
// expect error E0315 at 7:24
