// `preempt` takes a state label, as `transition` does.
public int x;

#s {
  preempt 3;
  // expect error E0301 at 5:11
  preempt #nowhere;
  // expect error E0206 at 7:11
}
