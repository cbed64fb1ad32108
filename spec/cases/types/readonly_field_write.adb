readonly int seats = 4;

message Resize {
  int seats;
}

channel resize(Resize r) {
  seats = r.seats;
  // expect error E0317 at 8:3
}
