// @viewer without any `view T name;` declaration has no fields to read; and a field the view
// declarations do not name is unknown.
public int x;
bubble b = @viewer.page;
// expect error E0201 at 4:12
