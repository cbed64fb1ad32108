message Say {
  string text;
}

public string say;

channel say(Say m) {
  // expect error E0204 at 7:9
}
