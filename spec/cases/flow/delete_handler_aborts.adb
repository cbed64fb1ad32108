@delete {
  abort;
  // expect error E0407 at 2:3
}
