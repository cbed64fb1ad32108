public int x = Color::Red;
// expect error E0202 at 1:16
