test same {
}

test same {
  // expect error E0204 at 4:1
}
