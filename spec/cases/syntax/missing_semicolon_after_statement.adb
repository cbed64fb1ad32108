// A statement ends with ';'; the error points at what came instead.
public int score;

#play {
  score = score + 1
  transition #play;
}
// expect error E0101 at 5:20
