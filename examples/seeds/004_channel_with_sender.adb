// Seed 004: a channel handler that names its sender.

message ChatMessage {
string body;
}
channel send(principal sender, ChatMessage msg) {
// messages are queued and processed automatically
// you don't need to poll or drain the queue
}
