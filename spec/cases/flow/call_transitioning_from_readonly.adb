procedure go() {
  transition #next;
}

procedure peek() readonly {
  go();
  // expect error E0317 at 6:3
}

#next {
}
