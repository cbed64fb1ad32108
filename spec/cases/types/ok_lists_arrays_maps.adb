// Lists, arrays, maps: literals, indexing, methods, aggregates.
public map<string, int> votes;

function first_or(int[] xs, int fallback) -> int {
  if (xs[0] as x) {
    return x;
  }
  return fallback;
}

function stats(int[] xs) -> double {
  list<int> backwards = xs.reverse();
  int[] again = backwards.toArray();
  int total = again.sum().getOrDefaultTo(0);
  if (xs.average() as mean) {
    return mean + total;
  }
  if (xs.max() as top) {
    return top;
  }
  return xs.size();
}

function primes() -> int[] {
  return [2, 3, 5, 7, 11];
}

procedure vote(string choice) {
  if (votes[choice] as n) {
    votes[choice] = n + 1;
  } else {
    votes[choice] = 1;
  }
  if (votes.has("skip")) {
    votes.remove("skip");
  }
  if (votes.size() > 100) {
    votes.clear();
  }
}

function mixed() -> double[] {
  return [1, 2.5, 3L];
}
