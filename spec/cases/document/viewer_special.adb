// @viewer reads viewer state, which is not supported yet.
public int x;
bubble b = @viewer.page;
// expect error E0901 at 3:12
