// Assets (spec/language.md 4.29): only uploads make one, so no message holds
// one; @attached takes the asset; @can_attach only reads.
public asset photo;
public int n;
message Bad { asset a; }
// expect error E0532 at 5:15
@attached {
  n += 1;
}
// expect error E0502 at 7:1
@can_attach {
  n = 1;
  return true;
}
// expect error E0317 at 12:3
