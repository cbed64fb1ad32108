@asset (AssetInfo info) {
  // expect error E0901 at 1:1
}
