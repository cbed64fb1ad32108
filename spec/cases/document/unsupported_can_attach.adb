@can_attach {
  // expect error E0901 at 1:1
  return true;
}
