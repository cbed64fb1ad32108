@load (who) {
  // expect error E0502 at 1:1
}
