public int stock;

procedure take() aborts {
  if (stock == 0) {
    abort;
  }
  stock -= 1;
}

procedure take_two() {
  take();
  // expect error E0407 at 11:3
  take();
  // expect error E0407 at 13:3
}
