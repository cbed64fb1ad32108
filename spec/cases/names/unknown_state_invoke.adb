#start {
  invoke #setpu;
  // expect error E0206 at 2:3
}

#setup {
}
