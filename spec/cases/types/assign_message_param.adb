message Say {
  string text;
}

channel say(Say msg) {
  msg.text = "changed";
  // expect error E0310 at 6:7
}
