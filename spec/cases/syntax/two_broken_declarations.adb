// After an error the parser resumes at the next declaration: both are reported.
record A {
  public int x
}

record B {
  public int y;
}

message M {
  int z = ;
}

public int fine;
// expect error E0101 at 3:15
// expect error E0101 at 11:11
