// @delete only answers whether deletion may happen: it changes nothing.
public int n;
@delete {
  n = 1;
  return true;
}
// expect error E0317 at 4:3
