// View filters (language.md 4.10.1): one name each; they read (the document, @viewer) and
// return a bool; a guard names declared filters after `|`; policies still cannot read @viewer.
view int page;
public int count;
filter first { return @viewer.page == 0; }
filter first { return true; }
filter writes { count = 1; return true; }
filter wrong { return 1; }
use_policy<|frist> int a;
bubble<|nothing> b = 1;
policy p { return @viewer.page == 0; }
// expect error E0204 at 6:8
// expect error E0317 at 7:17
// expect error E0405 at 8:23
// expect error E0210 at 9:1
// expect error E0210 at 10:1
// expect error E0213 at 11:19
