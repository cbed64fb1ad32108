message Say {
  string text;
}

public string last;

channel say(Say msg) {
  last = msg.txt;
  // expect error E0203 at 8:14
}
