public label next = #later;
// expect error E0206 at 1:21
