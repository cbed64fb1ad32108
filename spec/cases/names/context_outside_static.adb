@connected {
  return @context.origin == "https://example.com";
  // expect error E0213 at 2:10
}
