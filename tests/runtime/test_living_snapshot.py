"""Whole-runtime snapshots (issue 4 point 8, spec/snapshot.md): restore() gives a
runtime whose later outputs equal those of the one never snapshotted."""
from __future__ import annotations

from pathlib import Path

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_living_asks import MOVES, PARALLEL
from living_kit import DAY, HOUR, SECOND, T0, PlainViewers, asks, errors, living, restore, viewers_factory

from advm.runtime.living import SNAPSHOT_VERSION, LivingDocument
from advm.vm.errors import SnapshotError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
VIEWERS = [PlainViewers, viewers_factory()]


def call(doc: LivingDocument, step: tuple) -> list[dict]:
    op, *args = step
    return getattr(doc, op)(*args)


def run_both(src: str, steps: list[tuple], viewers, create=("host", None, T0)):
    """Run `steps` on a document and on a twin restored from a snapshot before
    every step; every step's frames must be equal. Returns the reference."""
    ref = living(src, viewers=viewers)
    twin = living(src, viewers=viewers)
    assert ref.create(*create) == twin.create(*create)
    for k, step in enumerate(steps):
        twin = restore(twin, viewers)
        got, want = call(twin, step), call(ref, step)
        assert got == want, (k, step)
    # Not the snapshot bytes: a waiting body's registers may hold dead values
    # left by earlier calls, which the restored machine never had.
    assert twin.engine.fields() == ref.engine.fields()
    assert (twin.pending, twin.crons.to_values()) == (ref.pending, ref.crons.to_values())
    for who in ["host", "ann", "ben", "cy", "xena", "otto", "mia@corp", "dora@corp"]:
        assert twin.asks_for(who) == ref.asks_for(who)
    return ref


def tictactoe_steps() -> list[tuple]:
    steps = [("connect", "xena", T0), ("connect", "otto", T0), ("view", "xena")]
    moves = [(1, 1), (0, 0), (2, 2), (0, 2), (0, 1), (2, 0), (1, 0), (1, 2), (2, 1)]
    for k, (x, y) in enumerate(moves):
        who = "xena" if k % 2 == 0 else "otto"
        steps.append(("answer", who, k + 1, {"x": x, "y": y}, T0 + (k + 1) * SECOND))
        steps.append(("answer", who, k + 1, {"x": 9, "y": 9}, T0 + (k + 1) * SECOND))  # stale
    steps.append(("send", "otto", "rematch", {"ready": True}, T0 + HOUR))
    steps.append(("answer", "otto", 10, {"x": 0, "y": 0}, T0 + HOUR))
    steps.append(("disconnect", "xena", T0 + 2 * HOUR))
    return steps


@pytest.mark.parametrize("viewers", VIEWERS, ids=lambda v: v.__name__)
def test_tictactoe_restored_at_every_step_gives_the_same_frames(viewers):
    ref = run_both((EXAMPLES / "tictactoe.adb").read_text(), tictactoe_steps(), viewers)
    assert ref.engine.field("games") == 1
    assert ref.engine.field("moves") == 1


@pytest.mark.parametrize("viewers", VIEWERS, ids=lambda v: v.__name__)
def test_an_approval_awaits_across_a_restore_and_resumes_mid_function(viewers):
    src = (EXAMPLES / "approval.adb").read_text()
    request = {"title": "laptop", "amount": 25000, "manager": "mia@corp", "director": "dora@corp"}
    steps = [
        ("connect", "mia@corp", T0),
        ("connect", "rita@corp", T0),
        ("advance", T0 + DAY),
        ("answer", "mia@corp", 1, {"approve": False, "comment": ""}, T0 + DAY),  # refused: no reason
        ("answer", "mia@corp", 1, {"approve": True, "comment": "fine"}, T0 + 3 * DAY // 2),
        ("advance", T0 + 3 * DAY),  # the escalation was replaced by the manager's answer
        ("connect", "dora@corp", T0 + 3 * DAY),
        ("answer", "dora@corp", 2, {"approve": True, "comment": "ok"}, T0 + 3 * DAY),
    ]
    ref = run_both(src, steps, viewers, create=("rita@corp", request, T0))
    f = ref.engine.fields()
    assert f["status"] == "Approved" and f["steps"] == 2


ROW_LOCAL = """
record Item { public int id; public int n; }
message Ok { bool ok; }
table<Item> _items;
channel<Ok> confirm;
public principal boss;
public formula items = iterate _items;

@construct {
  boss = @who;
  _items <- {n: 1};
  transition #bump;
}

#bump {
  list<Item> all = iterate _items;
  if (all[0] as it) {
    it.n = 5;
    Ok o = confirm.fetch(boss).await();
    // After a restore the local must still be the row of the table, not a copy.
    it.n = 10;
  }
}
"""


def test_locals_that_hold_rows_still_hold_them_after_a_restore():
    d = living(ROW_LOCAL, viewers=PlainViewers)
    d.create("bea", None, T0)
    assert d.engine.field("items") == [{"id": 1, "n": 5}]
    twin = restore(d, PlainViewers)
    frames = twin.answer("bea", 1, {"ok": True}, T0 + DAY)
    assert errors(frames) == [] and twin.engine.field("items") == [{"id": 1, "n": 10}]


def test_a_row_a_waiting_block_holds_is_written_once_and_shared():
    from advm.vm._machine import Record
    from advm.vm.snapshot import loads_values

    d = living(ROW_LOCAL, viewers=PlainViewers)
    d.create("bea", None, T0)
    values = cbor2.loads(d.snapshot())["document"]
    state = loads_values(values)
    rows = [v for v in state["doc"].f if type(v) is Record and type(v.f[1]) is dict][0].f[1]
    held = [v for v in state["cont"].obank if type(v) is Record and v.layout == rows[1].layout]
    assert held and all(v is rows[1] for v in held)
    # Exactly three containers are marked shareable (tag 28), everything else is inline: the
    # table (its rows point back at it), the held row, and the future (a register and the payload).
    marks = [values[i + 2] for i in range(len(values) - 2) if values[i:i + 2] == bytes([0xD8, 28])]
    assert marks == [0x86, 0x84, 0xA6]  # a 5-field record, a 3-field record, a 6-key map
    assert state["cont"].payload is [v for v in state["cont"].obank if type(v) is dict][0]


def test_queued_inputs_pending_transitions_and_asks_are_in_the_snapshot():
    d = living(PARALLEL, viewers=PlainViewers)
    d.create("host", None, T0)
    d.connect("ann", T0)
    d.connect("ben", T0)
    d.answer("ben", 2, {"value": 4}, T0)  # stored on its future
    d.enqueue({"op": "answer", "who": "ann", "ask": 1, "message": {"value": 3}, "now": T0 + SECOND})
    twin = restore(d, PlainViewers)
    assert len(twin.queue) == 1 and twin.asks_for("ann") == d.asks_for("ann")
    assert twin.pump() == d.pump()
    assert twin.engine.field("total") == 7


def test_the_header_is_versioned_and_checked():
    d = living(MOVES, viewers=PlainViewers)
    d.create("host", None, T0)
    body = cbor2.loads(d.snapshot())
    assert body["format"] == "advm-living" and body["version"] == SNAPSHOT_VERSION == 2
    assert body["module"] == d.engine.module.module_id()
    other = living(PARALLEL, viewers=PlainViewers)
    with pytest.raises(SnapshotError, match="different module"):
        LivingDocument.restore(other.engine.module, d.snapshot(), viewers=PlainViewers)
    with pytest.raises(SnapshotError, match="version"):
        LivingDocument.restore(d.engine.module, cbor2.dumps(dict(body, version=99)), viewers=PlainViewers)
    with pytest.raises(SnapshotError):
        LivingDocument.restore(d.engine.module, b"\xff\x00garbage", viewers=PlainViewers)
    with pytest.raises(SnapshotError):
        LivingDocument.restore(d.engine.module, cbor2.dumps(dict(body, queue=None)), viewers=PlainViewers)


# ---------------------------------------------------------------- random sessions

PEOPLE = ["ann", "ben", "cy"]
step_strategy = st.one_of(
    st.tuples(st.just("connect"), st.sampled_from(PEOPLE)),
    st.tuples(st.just("disconnect"), st.sampled_from(PEOPLE)),
    st.tuples(st.just("answer"), st.sampled_from(PEOPLE), st.integers(0, 12),
              st.fixed_dictionaries({"x": st.integers(-1, 3), "y": st.integers(0, 2)})),
    st.tuples(st.just("advance"), st.integers(0, 3)),
)


def concrete(steps) -> list[tuple]:
    out, now = [], T0
    for step in steps:
        now += SECOND
        if step[0] == "advance":
            now += step[1] * HOUR
            out.append(("advance", now))
        else:
            out.append(step + (now,))
    return out


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step_strategy, max_size=14))
def test_random_sessions_restored_at_every_step_give_the_same_frames(steps):
    run_both(MOVES, concrete(steps), PlainViewers)


def test_asks_reach_a_restored_viewer():
    d = living(MOVES, viewers=PlainViewers)
    d.create("host", None, T0)
    d.connect("xena", T0)
    d.connect("otto", T0)
    twin = restore(d, PlainViewers)
    frames = twin.disconnect("xena", T0) + twin.connect("xena", T0)
    assert asks(frames, "xena") == [{"id": 1, "channel": "play", "kind": "fetch"}]


parallel_step = st.one_of(
    st.tuples(st.just("connect"), st.sampled_from(PEOPLE)),
    st.tuples(st.just("answer"), st.sampled_from(PEOPLE), st.integers(1, 3),
              st.fixed_dictionaries({"value": st.integers(-2, 3)})),
    st.tuples(st.just("send"), st.sampled_from(PEOPLE), st.just("note"), st.just({"text": "hi"})),
    st.tuples(st.just("advance"), st.integers(0, 2)),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(parallel_step, max_size=12))
def test_random_parallel_answers_restored_at_every_step_give_the_same_frames(steps):
    # Answers stored before their await, and refused by an abort after it, survive restores.
    run_both(PARALLEL, concrete(steps), PlainViewers)
