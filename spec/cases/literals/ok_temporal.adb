// Date and time constants (language.md 2.7), escapes \b \f, a double without
// its leading zero, and empty statements.
public date d = @date 2024/1/31;
public time t = @time 13:30;
public timespan span = @timespan 5 min;
public datetime at = @datetime "2023-04-24T17:57:19.802-05:00";

test literals {
  assert (d == Date.make(2024, 1, 31).getOrDefaultTo(@date 1999/1/1));

  assert (span.seconds() == 300.0);
  assert ((@timespan 2 hr).minutes() == 120.0);
  assert ((@timespan 1 week).hours() == 168.0);
  assert (at.date() == @date 2023/4/24);
  assert (at.time() == @time 17:57);
  assert (@datetime "2023-04-24T22:57:19.802Z" == at || true);
  double x = -.12;
  assert (x < 0.0 && .5 == 0.5);
  ;
  string s = "a\bb\fc";
  assert (s.length() == 5);
  ;;
}
