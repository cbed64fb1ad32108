// Adama declarations: `auto` formulas, enum @default and optional commas, the
// methods of enum values, readonly locals and parameters, methods in messages.
enum Color { Red:1, Green, @default Blue, }
enum Size { Small Medium Large }
public Color c;
public Size s;
public auto favorite = c.to_string();
formula biggest = Size::Large.to_int();

record Card { public Color color; public auto label = color.to_string() + "!"; }
table<Card> cards;

message Move {
  int x;
  int y;
  method dist() -> int {
    return x * x + y * y;
  }
  method far(int limit) -> bool {
    return dist() > limit;
  }
}

function twice(readonly int n) -> int {
  readonly int k = n * 2;
  return k;
}

test enums {
  assert (c == Color::Blue);
  assert (s == Size::Small);
  assert (c.to_int() == 3 && Color::Red.to_int() == 1);
  assert (c.to_string() == "Blue" && favorite == "Blue");
  assert (c.next() == Color::Red && c.prev() == Color::Green);
  assert (Size::Small.prev() == Size::Large);
  assert (biggest == 2);
  cards <- {color: Color::Green};
  foreach (card in iterate cards) {
    assert (card.label == "Green!");
  }
  assert (twice(4) == 8);
}

test messages {
  Move m = {x: 3, y: 4};
  assert (m.dist() == 25);
  assert (m.far(20) && !m.far(30));
}
