message M {
  int x;
}

channel<M> one;
principal p;

#s {
  M[] opts = [{x: 1}];
  let f = one.choose(p, opts, 1);
  // expect error E0315 at 10:15
}
