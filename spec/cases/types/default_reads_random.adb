public int seed = Random.genInt();
// expect error E0318 at 1:26
