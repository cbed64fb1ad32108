@construct {
  invoke #setup;
  // expect error E0409 at 2:3
}

#setup {
}
