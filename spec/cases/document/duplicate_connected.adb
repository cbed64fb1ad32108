@connected {
  return true;
}

@connected (who) {
  // expect error E0501 at 5:1
  return false;
}
