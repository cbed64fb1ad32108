viewer_is<owner> int secret;
// expect error E0505 at 1:1
