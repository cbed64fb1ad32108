// Viewer state (Adama's `view T name;` and @viewer) belongs to the views: parsed, refused.
view int page;
bubble shown = 1;
// expect error E0901 at 2:1
