use_policy<nobody_has_this> int hidden;
// expect error E0210 at 1:1
