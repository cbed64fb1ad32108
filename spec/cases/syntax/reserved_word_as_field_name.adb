// 'while' is reserved: it cannot name a field.
public int while;
// expect error E0105 at 2:12
