// Two templates may not share a name.
template note: `t`first`t`
template note: `t`second`t`
// expect error E0204 at 3:10
