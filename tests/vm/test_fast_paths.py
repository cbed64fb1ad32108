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
