// Anonymous objects typed by context, kept anonymous in `let`, and @convert.
record Square {
  public int id;
  public int x;
  public int y;
  public principal piece;
}

message Play {
  int x;
  int y;
}

table<Square> _board;

function greet() -> Play {
  return {x: 1, y: 2};
}

procedure open_squares() -> Play[] readonly {
  list<Square> open = iterate _board where piece == @no_one;
  return @convert<Play>(open);
}

procedure one(Square s) -> Play {
  Play p = @convert<Play>(s);
  let o = {x: 3, y: 4};
  _board <- o;
  Play q = @convert<Play>({x: 5, y: 6});
  return q.x > p.x ? q : p;
}

procedure place() {
  int x = 1;
  int y = 2;
  _board <- {x, y};
}
