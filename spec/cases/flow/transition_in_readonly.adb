procedure later() readonly {
  transition #done;
  // expect error E0409 at 2:3
}

#done {
}
