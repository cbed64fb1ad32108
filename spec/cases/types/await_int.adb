#s {
  int x = 5;
  int y = x.await();
  // expect error E0314 at 3:13
}
