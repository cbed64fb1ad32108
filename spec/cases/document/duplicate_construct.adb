@construct {
}

@construct {
  // expect error E0501 at 4:1
}
