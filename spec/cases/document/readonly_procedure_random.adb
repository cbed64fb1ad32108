// Random advances the document's random stream: a write, so readonly refuses it.
procedure p() readonly {
  int x = Random.genInt();
}
// expect error E0318 at 3:18
