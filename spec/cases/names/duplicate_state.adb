#play {
}

#play {
  // expect error E0204 at 4:1
}
