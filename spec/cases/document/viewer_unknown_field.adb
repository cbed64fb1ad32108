// @viewer holds only the fields the `view` declarations name; a duplicate name is refused.
view int page;
view string page;
bubble b = @viewer.pgae;
// expect error E0203 at 4:20
// expect error E0212 at 3:13
