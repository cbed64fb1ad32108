"""Document time: the pending transition and the @cron jobs (spec/language.md
sections 4.22 and 6.9). Times are milliseconds since the epoch; nothing here
reads the wall clock.

Cron slots are wall-clock times in the document's time zone (an IANA name,
UTC by default), so "daily 2:30" stays at 2:30 local across daylight-saving
changes. Local times are built with fold=0: a time that happens twice (the
autumn change) means its first occurrence, and a time that does not exist
(the spring gap) is read with the offset before the change, i.e. it runs as
many minutes after the gap as it fell into it.
"""
from __future__ import annotations

import calendar
import datetime as dt
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo

HOUR_MS = 3_600_000
NEVER = 1 << 63  # later than any time a document can hold (times are int64 ms)


@dataclass
class Pending:
    """The one pending transition: which state and when it is due."""

    label: str
    due: int


def due_after(now: int, delay_seconds: float) -> int:
    """When a `transition #s in N` made at `now` fires; negative or NaN counts as 0."""
    if math.isnan(delay_seconds) or delay_seconds <= 0:
        return now
    if math.isinf(delay_seconds):
        return now + 2 ** 62  # never, in practice, but still an int the snapshot can hold
    return now + int(round(delay_seconds * 1000))


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ValueError, KeyError):  # not a zone name: the checker's default applies
        return ZoneInfo("UTC")


def _ms(d: dt.datetime) -> int:
    return int(round(d.timestamp() * 1000))


def _local(t: int, zone: ZoneInfo) -> dt.datetime:
    return dt.datetime.fromtimestamp(t / 1000, zone)


def _daily(day: dt.date, values, zone) -> int:
    hour, minute = values
    return _ms(dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone, fold=0))


def _monthly(year: int, month: int, values, zone) -> int:
    # A day past the month's end means its last day (spec/language.md 4.22).
    day = min(values[0], calendar.monthrange(year, month)[1])
    return _ms(dt.datetime(year, month, day, 0, 0, tzinfo=zone, fold=0))


def _shift_month(year: int, month: int, by: int) -> tuple[int, int]:
    k = year * 12 + (month - 1) + by
    return k // 12, k % 12 + 1


def slots_around(kind: str, values, t: int, zone: ZoneInfo) -> tuple[int, int]:
    """(latest slot <= t, earliest slot > t) of a cron schedule."""
    local = _local(t, zone)
    if kind == "hourly":
        at = _ms(local.replace(minute=values[0], second=0, microsecond=0, fold=0))
        # Whole hours of absolute time keep the local minute in every zone
        # whose offsets differ by whole hours.
        before = at if at <= t else at - HOUR_MS
        return before, before + HOUR_MS
    if kind == "daily":
        day = local.date()
        candidates = [_daily(day + dt.timedelta(days=k), values, zone) for k in (-1, 0, 1)]
    elif kind == "monthly":
        candidates = [_monthly(*_shift_month(local.year, local.month, k), values, zone) for k in (-1, 0, 1)]
    else:
        raise ValueError(f"unknown cron schedule {kind!r}")
    before = max(c for c in candidates if c <= t)
    after = min(c for c in candidates if c > t)
    return before, after


def next_slot(kind: str, values, t: int, zone: ZoneInfo) -> int:
    return slots_around(kind, values, t, zone)[1]


def latest_slot(kind: str, values, t: int, zone: ZoneInfo) -> int:
    return slots_around(kind, values, t, zone)[0]


@dataclass
class CronJob:
    """Bookkeeping of one @cron job: its next slot and the slot it last ran for."""

    name: str
    kind: str
    values: list
    next: int
    last: int | None = None

    def to_values(self) -> list:
        return [self.name, self.next, self.last]


class Crons:
    """Every @cron job of a document. A job that is due runs once, for its
    latest slot at or before the time the host advances to: slots passed while
    the host was down (or the document slept past them) are not run one by one
    (spec/language.md 4.22)."""

    def __init__(self, meta_crons: dict, zone: str, now: int):
        self.zone = zone
        self.jobs = {name: CronJob(name, c["schedule"], list(c["values"]), 0)
                     for name, c in sorted(meta_crons.items())}
        # The soonest `next` of any job (NEVER without jobs): every input asks
        # whether something is due before it, and this answers with one compare.
        self.earliest = NEVER
        self.rezone(zone, now)

    def _replan(self) -> None:
        self.earliest = min((j.next for j in self.jobs.values()), default=NEVER)

    def rezone(self, zone: str, now: int) -> None:
        """Plan every job from `now` in `zone` (at creation, and when code changes the zone)."""
        self.zone = zone
        z = zone_of(zone)
        for job in self.jobs.values():
            job.next = next_slot(job.kind, job.values, now, z)
        self._replan()

    def first_due(self, until: int) -> tuple[CronJob, int] | None:
        """The due job to run first and the slot it runs for: its latest slot
        at or before `until` (earlier missed slots are not run)."""
        if self.earliest > until:
            return None
        z = zone_of(self.zone)
        due = [(latest_slot(j.kind, j.values, until, z), j.name, j) for j in self.jobs.values()
               if j.next <= until]
        if not due:
            return None
        slot, _, job = min(due, key=lambda d: (d[0], d[1]))
        return job, slot

    def take(self, job: CronJob, slot: int) -> None:
        """`job` runs now for `slot`; plan the slot after it."""
        job.last = slot
        job.next = next_slot(job.kind, job.values, slot, zone_of(self.zone))
        self._replan()

    def next_due(self) -> int | None:
        return None if self.earliest == NEVER else self.earliest

    def to_values(self) -> dict:
        return {"zone": self.zone, "jobs": [j.to_values() for j in self.jobs.values()]}

    def load(self, v: dict) -> None:
        self.zone = v["zone"]
        for name, nxt, last in v["jobs"]:
            if name in self.jobs:
                self.jobs[name].next = nxt
                self.jobs[name].last = last
        self._replan()


__all__ = ["NEVER", "Pending", "CronJob", "Crons", "due_after", "zone_of", "next_slot", "latest_slot",
           "slots_around"]
