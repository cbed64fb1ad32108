// Seed 001: a channel is a typed endpoint of the document.

record ChatLine {
  public principal who;
  public string text;
  public datetime when;
}

table<ChatLine> _chat;

message Say { string text; }

channel say(Say msg) {
  _chat <- {who: @who, text: msg.text, when: Time.datetime()};
}
