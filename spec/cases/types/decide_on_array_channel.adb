message M {
  int x;
}

channel<M[]> many;
principal p;

#s {
  M[] opts = [{x: 1}];
  let f = many.decide(p, opts);
  // expect error E0315 at 10:16
}
