"""A synced store flushes each commit's meta page itself (store/env.py
sync_meta: LMDB opened with metasync off) before it acknowledges anything:
an acknowledgement still means data and meta are both on disk, and a meta
flush that fails is a failed commit (issue 12 point 4; spec/store.md 4)."""
from __future__ import annotations

import threading

import lmdb
import pytest

from advm.store import Entry, Store, StoreError

T0 = 1_767_225_600_000


def entry(seq, doc="d"):
    return Entry(seq, T0 + seq, "send", "alice", "say", {"doc": doc, "n": seq})


def test_a_synced_store_flushes_the_meta_page_before_each_acknowledgement(tmp_path):
    with Store(tmp_path / "s", durability="synced") as store:
        flags = store.env.env.flags()
        assert flags["sync"] and not flags["metasync"]  # the data flush is LMDB's, the meta's ours
        events = []
        lock = threading.Lock()
        real = store.env.sync_meta

        def sync_meta():
            real()
            with lock:
                events.append("meta flushed")

        store.env.sync_meta = sync_meta
        for seq in range(1, 6):
            fut = store.append("d", entry(seq))
            fut.add_done_callback(lambda f: events.append("acknowledged"))
            fut.result()
        # Each commit: its meta flush, then its acknowledgement; none acknowledged before.
        assert events == ["meta flushed", "acknowledged"] * 5


def test_a_relaxed_store_flushes_nothing(tmp_path):
    with Store(tmp_path / "s", durability="relaxed") as store:
        flags = store.env.env.flags()
        assert not flags["sync"] and not flags["metasync"] and not store.env.flush_meta
        calls = []
        store.env.env = _Spy(store.env.env, calls)
        assert store.append("d", entry(1)).result() == 1
        store.env.env = store.env.env.inner
        assert calls == []  # no flush of any kind per commit


class _Spy:
    def __init__(self, inner, calls):
        self.inner = inner
        self.calls = calls

    def sync(self, force=False):
        self.calls.append(force)
        return self.inner.sync(force)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_a_failed_meta_flush_is_a_failed_commit_and_fails_the_store(tmp_path):
    store = Store(tmp_path / "s", durability="synced")
    store.append("d", entry(1)).result()

    def failing():
        raise lmdb.DiskError("mdb_env_sync: Input/output error")

    store.env.sync_meta = failing
    # Not acknowledged: the commit reached LMDB but not the disk.
    with pytest.raises(StoreError, match="failed .*Input/output error"):
        store.append("d", entry(2)).result()
    del store.env.sync_meta
    # After a failed flush nothing more is promised: later writes are refused too.
    with pytest.raises(StoreError, match="failed"):
        store.append("d", entry(3)).result()
    store.close()
    with Store(tmp_path / "s", durability="synced") as again:
        # What was acknowledged is there; the refused write after the failure is not.
        assert [e.seq for e in again.log("d")][:1] == [1]
        assert 3 not in [e.seq for e in again.log("d")]


class _Recorder:
    """Wraps the store's write transactions and meta flushes to record, in
    order, each commit (with the seqs it wrote), each meta flush and each
    acknowledgement."""

    def __init__(self, store, gate=None):
        self.events = []
        self.lock = threading.Lock()
        env = store.env
        real_begin, real_sync = env.begin_write, env.sync_meta
        rec = self

        class Txn:
            def __init__(self):
                if gate is not None:
                    gate.wait(10)
                self.txn = real_begin()
                self.seqs = []

            def __getattr__(self, name):
                return getattr(self.txn, name)

            def cursor(self, *a, **k):
                return _Cursor(self.txn.cursor(*a, **k), self.seqs)

            def commit(self):
                self.txn.commit()
                rec.add(("commit", tuple(self.seqs)))

        def sync_meta():
            real_sync()
            rec.add(("meta",))

        env.begin_write = Txn
        env.sync_meta = sync_meta

    def add(self, event):
        with self.lock:
            self.events.append(event)

    def ack(self, seq):
        return lambda fut: self.add(("ack", seq))


class _Cursor:
    def __init__(self, cursor, seqs):
        self.cursor = cursor
        self.seqs = seqs

    def putmulti(self, items, *a, **k):
        self.seqs.extend(int.from_bytes(key[-8:], "big") for key, _ in items)
        return self.cursor.putmulti(items, *a, **k)

    def __getattr__(self, name):
        return getattr(self.cursor, name)


def _flushed_before_ack(events):
    """Each acknowledged seq: after the commit that wrote it, a flush that
    carries its meta page (a later commit's data flush or a meta flush) came
    before its acknowledgement."""
    for i, ev in enumerate(events):
        if ev[0] != "ack":
            continue
        wrote = next(j for j, e in enumerate(events) if e[0] == "commit" and ev[1] in e[1])
        assert any(e[0] in ("commit", "meta") for e in events[wrote + 1:i]), (ev, events)


def test_queued_batches_carry_each_others_meta_pages(tmp_path):
    """Batches that follow each other without a pause: each one's data flush
    carries the previous one's meta page, so one flush per batch, and a meta
    flush of its own only for the last (nothing queued behind it)."""
    gate = threading.Event()
    with Store(tmp_path / "s", durability="synced") as store:
        store.committer.max_batch = 4
        rec = _Recorder(store, gate)
        futures = []
        for seq in range(1, 21):  # queued while the committer waits at the gate
            fut = store.append("d", entry(seq))
            fut.add_done_callback(rec.ack(seq))
            futures.append(fut)
        gate.set()
        assert [f.result(timeout=30) for f in futures] == list(range(1, 21))
        events = list(rec.events)
    commits = [e for e in events if e[0] == "commit"]
    assert len(commits) >= 5 and sorted(s for c in commits for s in c[1]) == list(range(1, 21))
    # fewer meta flushes than commits: the queued ones were carried
    assert events.count(("meta",)) < len(commits)
    assert [e[1] for e in events if e[0] == "ack"] == list(range(1, 21))
    _flushed_before_ack(events)


def test_an_acknowledgement_waits_for_a_meta_flush_when_nothing_follows(tmp_path):
    with Store(tmp_path / "s", durability="synced") as store:
        rec = _Recorder(store)
        for seq in range(1, 6):
            fut = store.append("d", entry(seq))
            fut.add_done_callback(rec.ack(seq))
            fut.result(timeout=30)
        events = list(rec.events)
    # one input at a time: commit, its own meta flush, then its acknowledgement
    assert events == [e for seq in range(1, 6)
                      for e in (("commit", (seq,)), ("meta",), ("ack", seq))]


def test_closing_flushes_a_held_batch(tmp_path):
    gate = threading.Event()
    store = Store(tmp_path / "s", durability="synced")
    rec = _Recorder(store, gate)
    futures = [store.append("d", entry(seq)) for seq in (1, 2, 3)]
    gate.set()
    store.close()  # commits what was queued; the last batch is flushed, not dropped
    assert [f.result(timeout=0) for f in futures] == [1, 2, 3]
    assert rec.events[-1] == ("meta",)  # the held batch's own flush, at the end
    with Store(tmp_path / "s", durability="synced") as again:
        assert [e.seq for e in again.log("d")] == [1, 2, 3]


def test_a_failed_flush_fails_the_held_batch_too(tmp_path):
    """The batch held for the next flush is not acknowledged when that flush
    (the next commit) fails: it fails with the store."""
    gate = threading.Event()
    store = Store(tmp_path / "s", durability="synced")
    store.committer.max_batch = 2
    rec = _Recorder(store, gate)
    begin = store.env.begin_write
    calls = []

    def begin_failing_second():
        txn = begin()
        calls.append(txn)
        if len(calls) == 2:
            def commit():
                txn.txn.abort()
                raise lmdb.DiskError("mdb_txn_commit: Input/output error")
            txn.commit = commit
        return txn

    store.env.begin_write = begin_failing_second
    futures = [store.append("d", entry(seq)) for seq in (1, 2, 3, 4)]
    gate.set()
    for f in futures:  # batch 1 was held for batch 2's flush, which failed
        with pytest.raises(StoreError, match="failed"):
            f.result(timeout=30)
    assert rec.events.count(("meta",)) == 0 and not any(e[0] == "ack" for e in rec.events)
    store.close()
