// Loops, switch with fall-through, break/continue, returns on every path.
enum Phase { Setup, Play, Done }

record Row {
  public int id;
  public int value;
}

table<Row> _rows;
public int total;

procedure loops() {
  int i = 0;
  while (i < 3) {
    i++;
  }
  do {
    i--;
  } while (i > 0);
  for (int k = 0; k < 10; k++) {
    if (k == 5) {
      continue;
    }
    if (k == 8) {
      break;
    }
    total += k;
  }
  for (;;) {
    break;
  }
  foreach (r in iterate _rows) {
    total += r.value;
    r.value = 0;
  }
  foreach (n in [1, 2, 3]) {
    total += n;
  }
  foreach (row in _rows) {
    row.value++;
  }
}

function describe(Phase p) -> string {
  switch (p) {
    case Phase::Setup:
      return "setting up";
    case Phase::Play:
      return "playing";
    default:
      return "finished";
  }
}

function points(int rank) -> int {
  int result = 0;
  switch (rank) {
    case 11:
    case 12:
    case -13:
      result = 10;
      break;
    default:
      result = rank;
  }
  return result;
}

function name(string s) -> int {
  switch (s) {
    case "a":
      return 1;
    case "b":
      return 2;
  }
  return 0;
}

function forever() -> int {
  while (true) {
    return 1;
  }
}

function sign(int x) -> int {
  if (x > 0) {
    return 1;
  } else if (x < 0) {
    return -1;
  } else {
    return 0;
  }
}
