"""Input log, snapshots, recovery and retention through the Store API."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advm.store import (KEEP_ALL, CorruptRecord, Entry, Retention, SequenceConflict, Snapshot,
                        content_hash)

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms, the script clock's start


@pytest.fixture
def store(make_store):  # LMDB and PostgreSQL (tests/conftest.py make_store)
    # Durability is not under test here.
    return make_store(durability="relaxed")


def entry(seq, **kw):
    kw.setdefault("payload", {"text": f"message {seq}"})
    return Entry(seq, T0 + seq, kw.pop("kind", "send"), kw.pop("principal", "alice"),
                 kw.pop("channel", "say"), **kw)


def fill(store, doc, n, start=1):
    for seq in range(start, start + n):
        store.append(doc, entry(seq)).result()


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=4),
    max_leaves=12)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(principal=json_values, payload=json_values, channel=st.none() | st.text(max_size=10),
       extra=st.dictionaries(st.sampled_from(["ask", "outcome", "note"]), json_values, max_size=2))
def test_envelopes_round_trip(store, principal, payload, channel, extra):
    seq = store.last_seq("rt") + 1
    sent = Entry(seq, T0, "answer", principal, channel, payload, extra)
    assert store.append("rt", sent).result() == seq
    assert store.log("rt", after=seq - 1) == [sent]


def test_read_ranges_and_tail(store):
    fill(store, "doc", 10)
    fill(store, "doc-b", 3)  # a neighbour whose key extends "doc"
    assert [e.seq for e in store.log("doc")] == list(range(1, 11))
    assert [e.seq for e in store.log("doc", after=7)] == [8, 9, 10]
    assert [e.seq for e in store.log("doc", after=2, until=4)] == [3, 4]
    assert [e.seq for e in store.log("doc", limit=2)] == [1, 2]
    assert store.log("doc", after=10) == []
    assert [e.seq for e in store.entries("doc", after=1, chunk=3)] == list(range(2, 11))
    assert store.last_seq("doc") == 10 and store.last_seq("doc-b") == 3
    assert store.last_seq("nobody") == 0
    assert store.documents() == ["doc", "doc-b"]


def test_a_commit_must_continue_the_log(store):
    fill(store, "d", 2)
    for seq in (2, 4):
        with pytest.raises(SequenceConflict, match="ends at seq 2"):
            store.append("d", entry(seq)).result()
    with pytest.raises(ValueError, match="consecutive"):
        store.commit("d", [entry(3), entry(5)])
    with pytest.raises(ValueError, match="start at 1"):
        store.append("d", entry(0))
    # A refused commit wrote nothing; the log goes on where it ended.
    assert store.commit("d", [entry(3), entry(4)]).result() == 4
    assert [e.seq for e in store.log("d")] == [1, 2, 3, 4]


def test_load_is_latest_snapshot_plus_log_tail(store):
    assert store.load("fresh") == (None, 0, [])
    fill(store, "d", 5)
    store.commit("d", [entry(6)], snapshot=Snapshot.of(6, {"count": 6}, format=3)).result()
    fill(store, "d", 3, start=7)
    snap, seq, tail = store.load("d")
    assert seq == 6 and snap.seq == 6 and snap.format == 3
    assert snap.value() == {"count": 6}
    assert snap.hash == content_hash(snap.data)
    assert [e.seq for e in tail] == [7, 8, 9]


def test_snapshot_rules(store):
    fill(store, "d", 3)
    store.commit("d", snapshot=Snapshot(2, b"two")).result()
    with pytest.raises(SequenceConflict, match="ahead of the log"):
        store.commit("d", snapshot=Snapshot(4, b"four")).result()
    with pytest.raises(SequenceConflict, match="older than the stored one"):
        store.commit("d", snapshot=Snapshot(1, b"one")).result()
    # Rewriting the snapshot at the same seq replaces it.
    store.commit("d", snapshot=Snapshot(2, b"two again")).result()
    assert store.snapshot("d").data == b"two again"
    # An imported document starts from its snapshot; its log continues after it.
    store.commit("moved", snapshot=Snapshot(40, b"state at 40", time=T0)).result()
    assert store.last_seq("moved") == 40
    with pytest.raises(SequenceConflict):
        store.append("moved", entry(1)).result()
    store.append("moved", entry(41)).result()
    snap, seq, tail = store.load("moved")
    assert (snap.data, snap.time, seq, [e.seq for e in tail]) == (b"state at 40", T0, 40, [41])


def test_retention_keeps_newest_snapshots_and_trims_the_log(make_store):
    policy = Retention(snapshots=2, trim_log=True)
    with make_store(durability="relaxed", retention=policy) as s:
        for seq in range(1, 13):
            snap = Snapshot(seq, b"s%d" % seq) if seq % 4 == 0 else None
            s.commit("d", [entry(seq)], snapshot=snap).result()
        assert s.snapshot_seqs("d") == [8, 12]  # 4 was dropped when 12 arrived
        assert s.first_seq("d") == 9  # entries up to the oldest kept snapshot are gone
        assert [e.seq for e in s.log("d")] == [9, 10, 11, 12]
        snap, seq, tail = s.load("d")
        assert (seq, tail) == (12, [])
        # Trimming everything up to the newest snapshot leaves the log empty,
        # and the document still knows where it ends.
        assert s.trim("d", Retention(snapshots=1, trim_log=True)).result() == (1, 4)
        assert s.log("d") == [] and s.last_seq("d") == 12
        s.append("d", entry(13)).result()
        assert [e.seq for e in s.load("d").entries] == [13]


def test_keep_all_retention(make_store):
    with make_store(durability="relaxed", retention=KEEP_ALL) as s:
        for seq in range(1, 6):
            s.commit("d", [entry(seq)], snapshot=Snapshot(seq, b"x")).result()
        assert s.snapshot_seqs("d") == [1, 2, 3, 4, 5]
        assert s.snapshot("d", 3).seq == 3 and s.snapshot("d", 9) is None
        assert s.first_seq("d") == 1
    with pytest.raises(ValueError):
        Retention(snapshots=0)


def test_log_hole_is_reported_not_skipped(store):
    fill(store, "d", 4)
    # Remove seq 2 behind the store's back.
    from advm.store import keys
    if hasattr(store, "env"):  # LMDB
        with store.env.env.begin(write=True) as txn:
            assert txn.delete(keys.log_key("d", 2), db=store.env.log)
    else:  # PostgreSQL
        with store.connect() as conn:
            assert conn.execute("DELETE FROM log WHERE doc = %s AND seq = 2", (b"d",)).rowcount == 1
    with pytest.raises(CorruptRecord, match=r"'d' has a hole: seq 2 is missing") as info:
        store.load("d")
    assert info.value.doc == "d"


def test_delete_removes_everything_of_one_document(store):
    fill(store, "a", 3)
    fill(store, "ab", 2)
    store.commit("a", snapshot=Snapshot(3, b"x"), timer=T0).result()
    assert store.delete("a").result() == 4
    assert store.load("a") == (None, 0, [])
    assert store.timer("a") is None and store.next_due() is None
    assert store.documents() == ["ab"]
    assert store.last_seq("ab") == 2
    fill(store, "a", 1)  # the key can be used again from seq 1


def test_modules_by_hash(store):
    code = b"\x01compiled module bytes"
    digest = store.put_module(code, {"name": "chat.adb"}).result()
    assert store.module(digest) == (code, {"name": "chat.adb"})
    assert store.module(b"\x00" * 32) is None
    assert store.module_hashes() == [digest]
