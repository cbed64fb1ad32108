public int count = "none";
// expect error E0301 at 1:20
