// A record that holds itself would be infinite: every row holds another.
record Node {
  public int id;
  public Node next;
// expect error E0512 at 4:10
}
