"""The C fast path of indexed lookups gives exactly what a scan gives:
their results are document state, and replay compares states byte for byte."""
from __future__ import annotations

import random

from advm.vm import table
from advm.vm._machine import Record


def _table(indexed: bool):
    # rows [id, who, owner]; the index (when kept) is on slot 1
    return table.new([0, 0, 2, [1] if indexed else []])


def test_lookup_in_c_matches_a_scan_in_id_order():
    rng = random.Random(5)
    for indexed in (True, False):
        t = _table(indexed)
        rows = t.f[table.ROWS]
        for rid in range(1, 60):
            row = Record(0, [rid, rng.choice("abcd"), t])
            rows[rid] = row
            if indexed:
                t.f[table.INDEX][1].setdefault(row.f[1], {})[rid] = True
        if indexed:  # an indexed write appends an id out of order
            bucket = t.f[table.INDEX][1]["a"]
            first = next(iter(bucket))
            del bucket[first]
            bucket[first] = True
        for key in "abcde":
            want = [r for r in rows.values() if r.f[1] == key]
            assert table.lookup(t, 1, key) == want
            assert [r.f[0] for r in want] == sorted(r.f[0] for r in want)


def test_utc_datetime_without_a_datetime_matches_isoformat():
    """Time.datetime() of a UTC document is written from the clock's
    milliseconds (vm/stdlib.py _datetime_now): the same text the datetime
    path gives, at day and year edges, across the range it serves and past
    it, and in other zones (which keep the datetime path)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from advm.vm import stdlib
    from advm.vm.docslots import NOW, ZONE

    class M:
        def __init__(self, ms, zone):
            self.doc = Record(0, [None] * (max(NOW, ZONE) + 1))
            self.doc.f[NOW], self.doc.f[ZONE] = ms, zone

    def slow(ms, zone):
        return dt.datetime.fromtimestamp(ms / 1000.0, ZoneInfo(zone)).isoformat(timespec="milliseconds")

    rng = random.Random(12)
    edge = stdlib._UTC_FAST_UNTIL
    values = [0, 1, 999, 1000, 86_399_999, 86_400_000, 951_782_400_000, 1_767_225_600_000,
              4_102_444_799_999, edge - 1, edge, edge + 1, edge * 2 + 7]
    values += [rng.randrange(0, edge) for _ in range(3000)]
    values += [rng.randrange(0, edge // 86_400_000) * 86_400_000 + rng.choice([0, 1, 999, 86_399_999])
               for _ in range(300)]
    for ms in values:
        if ms >= 253_402_300_800_000:  # past the year 9999: datetime refuses it either way
            continue
        for zone in ("UTC", "Europe/Paris"):
            assert stdlib._datetime_now(M(ms, zone)) == slow(ms, zone), (ms, zone)
