enum Phase { Setup, Play }

function f(Phase p) -> int {
  switch (p) {
    case Phase::Setup:
      return 1;
    case Phase::Setup:
      // expect error E0410 at 7:10
      return 2;
  }
  return 0;
}
