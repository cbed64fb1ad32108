// The cycle may go through another record; a maybe breaks it.
record A {
  public B b;
// (the cycle is reported where it closes)
}
record B {
  public A a;
// expect error E0512 at 7:10
}
record C {
  public maybe<C> next;
}
