public int count;
viewer_is<count> int secret;
// expect error E0505 at 2:1
