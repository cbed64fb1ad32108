principal last;

#tick {
  last = @who;
  // expect error E0213 at 4:10
}
