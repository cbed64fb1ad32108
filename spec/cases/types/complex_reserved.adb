// `complex` is Adama's complex number type: no declaration may take its name.
message complex {
  double re;
}
// expect error E0105 at 2:9
public complex z;
