// bubble<policy> parses, but views do not apply the guard yet: refused, not leaked.
policy p { return true; }
bubble<p> k = 42;
// expect error E0901 at 3:1
