// `@include a/b;` (and `@import`) brings in another file's declarations in Adama; advm
// compiles one file, so it is E0901 not-supported-yet at the directive.
@include std/helpers;
// expect error E0901 at 3:1
public int x;
