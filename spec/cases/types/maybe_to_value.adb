public maybe<int> age;

procedure use_it() {
  int years = age;
  // expect error E0301 at 4:15
}
