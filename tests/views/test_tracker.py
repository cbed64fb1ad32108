"""ChangeTracker (what the undo logs say changed) against FrozenTracker (what
comparing frozen copies of the whole document says), over random sessions of
tests/views/docs/tracked.adb: every kind of write, aborts, deletes, indexed
slots, several commits between two observations.

The log-based tracker may report a container-typed field or row slot that was
written without its content changing (it does not compare containers); it
must never miss anything the frozen comparison sees, and for every other
field and slot it must say exactly the same.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from frozen_kit import FrozenTracker
from runkit import ALICE, T0
from viewkit import source

from advm.compiler.build import build_source
from advm.runtime.engine import Engine, TransactionError
from advm.views.reactive import ChangeTracker, _is_flat

MODULE = build_source(source("tracked.adb"), "tracked.adb")
EXAMPLES = int(os.environ.get("ADVM_PROP_EXAMPLES", "100"))

CHANNELS = ["set_a", "same", "set_m", "set_s", "set_xs", "put", "drop", "boxed", "add", "add", "edit", "edit",
            "edit", "remove", "churn"]
op = st.tuples(st.sampled_from(CHANNELS), st.integers(0, 6), st.integers(0, 6), st.sampled_from(["x", "y", "z"]),
               st.booleans(), st.booleans())
script = st.lists(op, max_size=40)
# rows 1-4 exist before the script runs, so its edits and deletes find rows
OPENING = [("add", k, k, "w", False, True) for k in range(4)] + [("put", 0, 1, "w", False, False)]


def flat_slots(meta):
    """Document fields and row slots whose changes must be reported exactly."""
    fields = {f["name"] for f in meta["document"]["fields"] if _is_flat(f["type"])}
    rows = {info["layout"]: {fd["slot"] for fd in info["fields"] if _is_flat(fd["type"])}
            for info in meta["records"].values()}
    return fields, rows


def compare(log, frozen, meta) -> None:
    exact_fields, exact_slots = flat_slots(meta)
    assert log.everything == frozen.everything
    assert log.time == frozen.time
    assert log.gone == frozen.gone
    assert frozen.fields <= log.fields
    assert log.fields & exact_fields == frozen.fields & exact_fields
    # a table reported in excess must be one whose rows have container slots written
    for name in log.fields - frozen.fields:
        desc = next(f["type"] for f in meta["document"]["fields"] if f["name"] == name)
        assert not _is_flat(desc)
        if desc[0] == "table":
            assert any(row.layout == meta["records"][desc[1]]["layout"] for row in log.rows)
    for row, slots in frozen.rows.items():
        assert slots <= log.rows.get(row, frozenset())
    for row, slots in log.rows.items():
        exact = exact_slots[row.layout]
        assert slots & exact == frozen.rows.get(row, frozenset()) & exact


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(script)
def test_the_logs_say_what_comparing_copies_says(ops):
    d = Engine(MODULE, key="tracked")
    d.create(ALICE, None, now=T0)
    log, frozen = ChangeTracker(d.machine, d.meta), FrozenTracker(d.machine, d.meta)
    compare(log.observe(), frozen.observe(), d.meta)
    clock = T0
    for channel, k, v, t, tick, look in OPENING + ops:
        clock += 1000 if tick else 0
        try:
            d.send(ALICE, channel, {"k": k, "v": v, "t": t}, now=clock)
        except TransactionError:
            pass
        if look:  # otherwise several commits pile up before the next observation
            compare(log.observe(), frozen.observe(), d.meta)
    compare(log.observe(), frozen.observe(), d.meta)


def fields_of(d, tracker, channel, message):
    d.send(ALICE, channel, message, now=T0)
    return tracker.observe()


def test_writes_of_the_same_value_and_aborts_report_nothing():
    d = Engine(MODULE, key="tracked")
    d.create(ALICE, None, now=T0)
    tracker = ChangeTracker(d.machine, d.meta)
    tracker.observe()
    d.send(ALICE, "add", {"k": 0, "v": 1, "t": "x"}, now=T0)
    assert tracker.observe().fields == {"_rows"}
    assert not fields_of(d, tracker, "same", {"k": 1})  # a = a; s = s; n = n
    try:
        d.send(ALICE, "set_a", {"k": 1, "v": 5}, now=T0)
    except TransactionError:
        pass
    assert not tracker.observe()
    changes = fields_of(d, tracker, "edit", {"k": 1, "v": 3})  # r.tag.weight += 1: inside a row's record slot
    tag_slot = next(f["slot"] for f in d.meta["records"]["Row"]["fields"] if f["name"] == "tag")
    assert changes.fields == {"_rows"} and list(changes.rows.values()) == [{tag_slot}]
    assert fields_of(d, tracker, "boxed", {"k": 2, "v": 9}).fields == {"box"}  # box.tag.weight
    assert fields_of(d, tracker, "put", {"t": "q", "v": 2}).fields == {"tally"}


def test_more_commits_than_the_machine_keeps_report_everything():
    d = Engine(MODULE, key="tracked")
    d.create(ALICE, None, now=T0)
    tracker = ChangeTracker(d.machine, d.meta)
    tracker.observe()
    for v in range(ChangeTracker.KEEP + 1):
        d.send(ALICE, "set_a", {"v": v}, now=T0)
    assert tracker.observe().everything
    d.send(ALICE, "set_a", {"v": 100}, now=T0)
    assert tracker.observe().fields == {"a"}


def test_a_top_level_write_outside_any_transaction_is_still_seen():
    d = Engine(MODULE, key="tracked")
    d.create(ALICE, None, now=T0)
    tracker = ChangeTracker(d.machine, d.meta)
    tracker.observe()
    slot = next(f["slot"] for f in d.meta["document"]["fields"] if f["name"] == "a")
    d.machine.doc.f[slot] = 41  # no transaction, nothing logged
    assert tracker.observe().fields == {"a"}
