public formula viewer = @who;
// expect error E0213 at 1:25
