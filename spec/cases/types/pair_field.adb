// Pairs live in locals, parameters and results, not in stored fields.
public pair<int, int> p;
// expect error E0321 at 2:8
