service weather {
  // expect error E0901 at 1:1
  method<Request, Response> get;
}
