public int online;

@connected (who) {
  if (online > 10) {
    abort;
    // expect error E0407 at 5:5
  }
  return true;
}
