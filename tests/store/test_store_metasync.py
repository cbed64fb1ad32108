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
