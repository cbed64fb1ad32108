"""The C fast paths of library calls give exactly what the Python paths give:
their results are document state, and replay compares states byte for byte."""
from __future__ import annotations

import datetime as dt
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from advm.vm import table
from advm.vm._machine import UTC_ISO_MS_END, Record, utc_iso_ms
from advm.vm.stdlib import fmt_datetime

UTC = dt.timezone.utc


def slow(ms: int) -> str:
    # what Time.datetime() computed before the C path (vm/stdlib.py _now)
    return fmt_datetime(dt.datetime.fromtimestamp(ms / 1000.0, UTC))


EDGES = [0, 1, 999, 1000, 86_399_999, 86_400_000, 951_782_400_000,  # 2000-02-29
         951_868_799_999, 4_102_444_800_000, 1_767_225_600_000, UTC_ISO_MS_END - 1,
         UTC_ISO_MS_END - 1000, 1_700_000_123_456]


def test_utc_datetime_matches_datetime_at_the_edges():
    for ms in EDGES:
        assert utc_iso_ms(ms) == slow(ms), ms


@settings(max_examples=500, deadline=None)
@given(st.integers(0, UTC_ISO_MS_END - 1))
def test_utc_datetime_matches_datetime(ms):
    assert utc_iso_ms(ms) == slow(ms)


def test_utc_datetime_outside_its_range_is_refused():
    # the library falls back to datetime there (and a float loses the ms)
    for ms in (-1, UTC_ISO_MS_END):
        try:
            utc_iso_ms(ms)
        except ValueError:
            continue
        raise AssertionError(ms)


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
