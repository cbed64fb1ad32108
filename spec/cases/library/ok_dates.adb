// Adama's Date and TimeSpan helpers, and Random's Gaussian draw.
public double g;

test calendar {
  if (Date.make(2024, 1, 31) as d) {
    assert (d.dayOfWeekEnglish() == "Wednesday");
    assert (Date.monthNameEnglish(d) == "January");
    list<date> month = d.calendarViewOf();
    assert (month.size() == 35);
    assert (d.weekViewOf().size() == 7);
    assert (d.neighborViewOf(2).size() == 5);
    int weekdays = Date.patternOf(true, true, true, true, true, false, false);
    assert (weekdays == 31);
    assert (d.satisfiesWeeklyPattern(weekdays));
    if (Date.make(2024, 2, 11) as e) {
      assert (d.inclusiveRange(e).size() == 12);
      assert (Date.inclusiveRangeSatisfiesWeeklyPattern(d, e, weekdays).size() == 8);
      assert (d.periodMonths(e) == 0);
    }
    if (Date.make(2025, 7, 31) as later) {
      assert (Date.periodMonths(d, later) == 18);
      assert (d.periodYearsFractional(later) == 1.5);
    }
    if (Time.make(13, 30) as t) {
      if (Date.construct(d, t, 0.0, "UTC") as at) {
        assert (at.date() == d && at.time() == t);
        if (at.adjustTimeZone("Pacific/Kiritimati") as kiritimati) {
          assert (kiritimati.date() == d.offsetDay(1));
        } else { assert (false); }
      } else { assert (false); }
      assert (!Date.construct(d, t, 0.0, "Nowhere/Atlantis").has());
    }
  } else {
    assert (false);
  }
}

test spans {
  if (Date.make(2024, 1, 1) as a) {
    if (Time.make(0, 0) as midnight) {
      if (Date.construct(a, midnight, 0.0, "UTC") as t0) {
        if (Date.construct(a.offsetDay(1), midnight, 0.0, "UTC") as t1) {
          timespan d = Date.between(t0, t1);
          assert (d.hours() == 24.0);
          assert (TimeSpan.add(d, d).hours() == 48.0);
          assert (d.multiply(0.5).minutes() == 720.0);
          assert (TimeSpan.seconds(d) == 86400.0);
        }
      }
    }
  }
}

test gaussian {
  g = Random.getDoubleGaussian();
  assert (g > -10.0 && g < 10.0);
}

test clock {
  time t = @time 22:30;
  assert (t.toInt() == 1350 && Time.toInt(@time 0:05) == 5);
  assert (t.extendWithinDay(@timespan 3 hr) == @time 23:59);
  assert (Time.extendWithinDay(t, @timespan 30 min) == @time 23:00);
  assert (t.cyclicAdd(@timespan 3 hr) == @time 1:30);
  assert (Time.overlaps(@time 9:00, @time 10:00, @time 9:30, @time 11:00));
  assert (!Time.overlaps(@time 9:00, @time 10:00, @time 10:01, @time 11:00));
}

test formatting {
  datetime at = @datetime "2024-01-31T13:05:09.250Z";
  assert (at.format("yyyy-MM-dd HH:mm:ss").getOrDefaultTo("") == "2024-01-31 13:05:09");
  assert (Date.format(at, "EEEE, MMMM d, yyyy 'at' h:mm a").getOrDefaultTo("") == "Wednesday, January 31, 2024 at 1:05 PM");
  assert (at.format("EEE dd MMM yy", "fr").getOrDefaultTo("") == "Wed 31 Jan 24");
  assert (at.format("HH:mm:ss.SSS").getOrDefaultTo("") == "13:05:09.250");
  assert (!at.format("QQQ").has() && !at.format("'open").has());
}
