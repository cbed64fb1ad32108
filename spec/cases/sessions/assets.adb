// Seed 004's @asset spelling is @attached (spec/language.md 4.29); an asset
// field, its methods and @can_attach reading the document.
@static {
  create {
    return true;
  }
}
@connected {
  return true;
}
public bool open = true;
public asset first;
public string last;
public long total;
@can_attach {
  return open;
}
@asset (asset a) {
  last = a.name() + " " + a.type() + " " + a.md5();
  total += a.size();
  if (!first.valid()) {
    first = a;
  }
  if (a.size() == 0) {
    open = false;
  }
}
