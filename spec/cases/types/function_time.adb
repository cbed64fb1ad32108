// A function may read the clock (Time, language.md 4.12), not the document (Document.key()).
function stamp() -> string {
  return Document.key() + Time.now();
  // expect error E0318 at 3:19
}
