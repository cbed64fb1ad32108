// A document that uses vec2 cannot declare its own: the name is advm's vector type.
message vec2 { int a; }
public vec2 v = @vec[1, 2];
// expect error E0105 at 2:9
