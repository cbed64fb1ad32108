public int stock;

procedure take() {
  if (stock == 0) {
    abort;
    // expect error E0407 at 5:5
  }
  stock -= 1;
}
