procedure p() {
  let xs = [];
  // expect error E0312 at 2:12
}
