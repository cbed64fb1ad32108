public formula dice = Random.genBoundInt(6);
// expect error E0318 at 1:30
