procedure nothing() {
}

procedure p() {
  let x = nothing();
  // expect error E0312 at 5:11
}
