function f() -> int {
  transition #done;
  // expect error E0409 at 2:3
  return 1;
}

#done {
}
