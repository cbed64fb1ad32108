// maybe<T>: filling, unwrapping, empty maybes and their methods.
public maybe<int> age;
public maybe<string> nickname;

procedure birthday() {
  if (age as a) {
    age = a + 1;
  } else {
    age = 1;
  }
}

function or_zero(maybe<int> m) -> int {
  if (m as v) {
    return v;
  }
  return m.getOrDefaultTo(0);
}

function wrap(int x) -> maybe<int> {
  if (x > 0) {
    return @maybe(x);
  }
  return @maybe<int>;
}

procedure forget() {
  nickname.delete();
  bool known = age.has();
  maybe<string> same = nickname;
  if (known && same == nickname) {
    age = @maybe<int>;
  }
}
