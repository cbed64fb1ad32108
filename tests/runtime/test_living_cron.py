"""@cron in document time and the document's time zone (issue 4 point 5;
spec/language.md 4.22) and the slot arithmetic of runtime/schedule.py."""
from __future__ import annotations

import datetime as dt

import pytest
from living_kit import DAY, HOUR, MINUTE, T0, PlainViewers, living, restore

from advm.runtime.schedule import due_after, latest_slot, next_slot, zone_of


def ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).timestamp() * 1000)


UTC = zone_of("UTC")
NEW_YORK = zone_of("America/New_York")


@pytest.mark.parametrize("kind, values, after, expected", [
    ("daily", [2, 30], "2026-01-01T00:00:00+00:00", "2026-01-01T02:30:00+00:00"),
    ("daily", [2, 30], "2026-01-01T02:30:00+00:00", "2026-01-02T02:30:00+00:00"),
    ("hourly", [15], "2026-01-01T00:00:00+00:00", "2026-01-01T00:15:00+00:00"),
    ("hourly", [15], "2026-01-01T00:15:00+00:00", "2026-01-01T01:15:00+00:00"),
    ("monthly", [1], "2026-01-01T00:00:00+00:00", "2026-02-01T00:00:00+00:00"),
    # A day past the month's end runs on its last day.
    ("monthly", [31], "2026-01-31T00:00:00+00:00", "2026-02-28T00:00:00+00:00"),
    ("monthly", [31], "2028-01-31T12:00:00+00:00", "2028-02-29T00:00:00+00:00"),
])
def test_next_slot_in_utc(kind, values, after, expected):
    assert next_slot(kind, values, ms(after), UTC) == ms(expected)


@pytest.mark.parametrize("after, expected", [
    ("2026-01-15T00:00:00-05:00", "2026-01-15T02:30:00-05:00"),  # winter: EST
    ("2026-07-15T00:00:00-04:00", "2026-07-15T02:30:00-04:00"),  # summer: EDT
    # 2:30 does not exist on 2026-03-08 (2:00 -> 3:00): read with the offset before the gap.
    ("2026-03-08T00:00:00-05:00", "2026-03-08T02:30:00-05:00"),
])
def test_daily_slots_follow_the_zones_wall_clock(after, expected):
    assert next_slot("daily", [2, 30], ms(after), NEW_YORK) == ms(expected)


def test_a_time_that_happens_twice_means_the_first():
    # 2026-11-01: 1:30 happens at -04:00 and again at -05:00.
    assert next_slot("daily", [1, 30], ms("2026-11-01T00:00:00-04:00"), NEW_YORK) == \
        ms("2026-11-01T01:30:00-04:00")


def test_latest_slot_and_delays():
    assert latest_slot("daily", [2, 30], T0, UTC) == ms("2025-12-31T02:30:00+00:00")
    assert latest_slot("hourly", [0], T0, UTC) == T0
    assert due_after(T0, 1.5) == T0 + 1500
    assert due_after(T0, -4) == T0 == due_after(T0, float("nan"))


CRON = """
public int nightly;
public int hourly;
public int monthly;
public datetime nightly_at;

@cron nightly daily 2:30 {
  nightly += 1;
  nightly_at = Time.datetime();
}

@cron refresh hourly 15 {
  hourly += 1;
}

@cron billing monthly 31 {
  monthly += 1;
}
"""


def test_cron_jobs_run_at_their_slots_in_document_time():
    d = living(CRON, viewers=PlainViewers)
    d.create("host", None, T0)
    assert d.next_due() == T0 + 15 * MINUTE
    # A host that is up advances to each next_due(), so no slot is missed.
    while d.next_due() < T0 + 2 * HOUR + 30 * MINUTE:
        d.advance(d.next_due())
    f = d.engine.fields()
    assert (f["nightly"], f["hourly"]) == (0, 3)
    d.advance(T0 + 2 * HOUR + 30 * MINUTE)
    f = d.engine.fields()
    assert f["nightly"] == 1 and f["nightly_at"].startswith("2026-01-01T02:30:00")


def test_missed_slots_run_once():
    d = living(CRON, viewers=PlainViewers)
    d.create("host", None, T0)
    d.advance(T0 + 10 * DAY)  # ten nightly slots and 240 hourly ones went by
    f = d.engine.fields()
    assert (f["nightly"], f["hourly"]) == (1, 1)
    assert f["nightly_at"].startswith("2026-01-10T02:30:00")  # the latest slot
    d.advance(T0 + 11 * DAY)
    assert d.engine.field("nightly") == 2
    d.advance(ms("2026-01-31T00:00:00+00:00"))
    d.advance(ms("2026-02-28T00:00:00+00:00"))
    assert d.engine.field("monthly") == 2  # January 31, then February's last day


def test_cron_bookkeeping_survives_a_restore_and_missed_runs_run_once_on_wake():
    d = living(CRON, viewers=PlainViewers)
    d.create("host", None, T0)
    d.advance(T0 + 3 * HOUR)
    twin = restore(d, PlainViewers)
    assert twin.crons.to_values() == d.crons.to_values()
    assert twin.crons.jobs["nightly"].last == T0 + 2 * HOUR + 30 * MINUTE
    for doc in (d, twin):
        doc.advance(T0 + 5 * DAY)
    assert twin.engine.fields() == d.engine.fields()
    assert twin.engine.field("nightly") == 2


ZONED = """
@static {
  timezone = "America/New_York";
}
public int nightly;
public datetime at;

@cron nightly daily 2:30 {
  nightly += 1;
  at = Time.datetime();
}
"""


def test_cron_uses_the_static_timezone():
    d = living(ZONED, viewers=PlainViewers)
    d.create("host", None, T0)  # 2025-12-31T19:00 in New York
    assert d.next_due() == ms("2026-01-01T02:30:00-05:00")
    d.advance(ms("2026-01-01T07:29:00+00:00"))
    assert d.engine.field("nightly") == 0
    d.advance(ms("2026-01-01T07:30:00+00:00"))
    assert d.engine.field("nightly") == 1
