"""`@static maximum_history` (spec/store.md 7): a document keeps about that
many inputs before its newest snapshot and nothing older; replay, inspect and
recovery work on what is kept."""
from __future__ import annotations

import json

from advm.cli import ExitCode
from advm.store import KEEP_ALL, Retention, Snapshot, Store, keys
from advm.durable.document import DurableDocument, maximum_history
from advm.store.log import Entry
from advm.durable.replay import replay
from advm.views.viewers import Viewers
from durable_kit import T0, compiled, example, open_store

COUNTER = """
@static { create { return true; } maximum_history = 10; snapshot_every = 4; }
public int n;
message Add { int k; }
channel add(principal who, Add a) { n += a.k; }
"""


def add(doc, k: int, now: int):
    return doc.submit({"op": "send", "as": "ann", "channel": "add", "message": {"k": k}}, now)


def played(path, inputs: int, **kw):
    store = open_store(path, **kw)
    doc, _ = DurableDocument.create(store, "c", compiled(COUNTER), "ann", None, T0, viewers=Viewers)
    for k in range(1, inputs + 1):
        add(doc, k, T0 + k)
    doc.snapshot_now().result()
    return store, doc


def test_the_property_is_read_from_the_module():
    assert maximum_history(example("chat")) == 1000
    assert maximum_history(example("tictactoe")) is None
    assert maximum_history(compiled(COUNTER)) == 10


def test_history_older_than_the_limit_is_trimmed_at_a_snapshot(tmp_path):
    store, doc = played(tmp_path / "s", 50)
    with store:
        held = store.snapshot_seqs("c")
        newest = held[-1]
        first = store.first_seq("c")
        cut = first - 1
        # The log starts right after a kept snapshot: the newest one at least
        # 10 inputs before the newest snapshot.
        assert cut in held and cut == max(s for s in held if s <= newest - 10)
        assert newest - cut < 10 + doc.every
        # Nothing older is kept, and every snapshot from the cut on is.
        assert held[0] == cut and held == sorted(held)
        assert store.log("c")[0].seq == first and store.last_seq("c") == doc.seq == 51
        # It still recovers, and goes on.
        again = DurableDocument.open(store, "c", viewers=Viewers)
        assert again.living.engine.fields()["n"] == sum(range(1, 51))
        assert add(again, 1, T0 + 100).result() is not None
        again.close()


def test_replay_and_inspect_work_on_what_is_kept(tmp_path, cli):
    store, doc = played(tmp_path / "s", 50)
    first = store.first_seq("c")
    store.close()
    with Store(tmp_path / "s", readonly=True) as ro:
        result = replay(ro, "c")
        assert result.ok and result.start == first - 1 and result.head == 51
        assert [c.seq for c in result.checks] == [s for s in ro.snapshot_seqs("c") if s > first - 1]
        assert result.living.engine.fields()["n"] == sum(range(1, 51))
        # Time travel within the kept history.
        back = replay(ro, "c", until=first + 2)
        assert back.ok and back.head == first + 2
    r = cli("replay", "--log", "--store", tmp_path / "s", "--doc", "c", "--quiet")
    assert r.code == ExitCode.OK, r.err
    assert f"replayed seq {first}..51" in r.err
    d = json.loads(cli("snapshot", "inspect", "--store", tmp_path / "s", "--doc", "c",
                       "--json").out)
    assert d["fields"]["n"] == sum(range(1, 51))


def test_without_the_property_the_store_policy_decides(tmp_path):
    text = COUNTER.replace("maximum_history = 10; ", "")
    with open_store(tmp_path / "s") as store:
        doc, _ = DurableDocument.create(store, "c", compiled(text), "ann", None, T0, viewers=Viewers)
        for k in range(1, 51):
            add(doc, k, T0 + k)
        doc.close()
        assert store.first_seq("c") == 1  # the default policy keeps the whole log
        assert len(store.snapshot_seqs("c")) == 3


def test_kept_snapshots_are_thinned_to_a_quarter_of_the_history_apart(tmp_path):
    text = COUNTER.replace("maximum_history = 10", "maximum_history = 40")
    with open_store(tmp_path / "s") as store:
        doc, _ = DurableDocument.create(store, "c", compiled(text), "ann", None, T0, viewers=Viewers)
        for k in range(1, 201):
            add(doc, k, T0 + k)
            if k % 4 == 0:  # after each snapshot: the rule holds at every step
                doc._settle()
                held = store.snapshot_seqs("c")
                newest, cut = held[-1], store.first_seq("c") - 1
                if held[0] <= newest - 40:  # enough history for a cut
                    assert cut == held[0] and cut <= newest - 40
                    assert newest - cut <= 40 + 10 + doc.every  # history + spacing + interval
                gaps = [b - a for a, b in zip(held, held[1:-1])]
                assert all(g >= 10 for g in gaps), held
        assert len(store.snapshot_seqs("c")) <= 40 // 10 + 3
        assert replay(store, "c").ok


def test_short_history_keeps_everything(tmp_path):
    store, doc = played(tmp_path / "s", 8)
    with store:
        assert store.first_seq("c") == 1
        assert store.snapshot_seqs("c") == [4, 8, 9]


# ---------------------------------------------------------------- the store rule


def _doc(store, doc: str, upto: int, snaps, history, policy=None):
    """Entries 1..upto with snapshots at `snaps`, the last one written with
    `history` (retention runs when a snapshot is written)."""
    for seq in range(1, upto + 1):
        snap = Snapshot.of(seq, {"n": seq}) if seq in snaps else None
        store.commit(doc, [Entry(seq, T0 + seq, "send")], snapshot=snap,
                     history=history if seq == max(snaps) else None).result()


def test_the_later_cut_wins_when_the_policy_trims_the_log_too(tmp_path):
    with open_store(tmp_path / "a", retention=Retention(snapshots=2, trim_log=True)) as store:
        # policy: keep 2 snapshots (20, 30), log from 21; history 25: cut at 5 -> policy wins
        _doc(store, "p", 30, {5, 10, 20, 30}, 25)
        assert store.snapshot_seqs("p") == [20, 30] and store.first_seq("p") == 21
    with open_store(tmp_path / "b", retention=Retention(snapshots=None, trim_log=True)) as store:
        # policy: keep every snapshot and the log after the oldest; history 12: cut at 10
        _doc(store, "q", 30, {5, 10, 20, 30}, 12)
        assert store.snapshot_seqs("q") == [10, 20, 30] and store.first_seq("q") == 11


def test_history_trims_even_under_keep_all(tmp_path):
    with open_store(tmp_path / "a", retention=KEEP_ALL) as store:
        _doc(store, "k", 30, {5, 10, 20, 25, 30}, 12)
        assert store.snapshot_seqs("k") == [10, 20, 25, 30] and store.first_seq("k") == 11
        # trim() applies it on demand, too
        assert store.trim("k", history=5).result() == (2, 15)  # snapshots 10, 20; seqs 11..25
        assert store.snapshot_seqs("k") == [25, 30] and store.first_seq("k") == 26
        assert store.load("k").seq == 30


def test_a_bad_history_is_refused_at_the_call(tmp_path):
    import pytest

    with open_store(tmp_path / "a") as store:
        with pytest.raises(ValueError, match="maximum_history"):
            store.commit("x", [Entry(1, T0, "send")], history=0)
        assert store.last_seq("x") == 0
        assert keys.doc_prefix("x") == b"x\x00"
