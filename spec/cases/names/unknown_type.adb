public Widget thing;
// expect error E0202 at 1:8
