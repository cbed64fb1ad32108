"""Group commit: many writers, one synced transaction per batch, acks only after durability.
The tests taking `make_store` run on LMDB and on PostgreSQL (tests/conftest.py)."""
from __future__ import annotations

import asyncio
import concurrent.futures as cf
import threading

import pytest

from advm.store import Entry, SequenceConflict, Snapshot, Store, StoreClosed, StoreError

T0 = 1_767_225_600_000


def entry(seq, doc="d"):
    return Entry(seq, T0 + seq, "send", "alice", "say", {"doc": doc, "n": seq})


def test_many_threads_every_ack_survives_reopening(make_store, tmp_path):
    docs, per_doc = 24, 25
    acked: dict[str, list[int]] = {}
    lock = threading.Lock()

    def writer(store, doc):
        for seq in range(1, per_doc + 1):
            store.append(doc, entry(seq, doc)).result(timeout=30)
            with lock:
                acked.setdefault(doc, []).append(seq)

    with make_store(tmp_path / "s") as store:  # synced: durability is what is tested
        threads = [threading.Thread(target=writer, args=(store, f"doc{i}")) for i in range(docs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        stats = store.committer.stats()
    # Writers overlapped, so some flushes carried several documents.
    assert stats["ops"] == docs * per_doc
    assert stats["largest_batch"] > 1 and stats["batches"] < stats["ops"]
    with make_store(tmp_path / "s") as store:
        for doc, seqs in acked.items():
            assert seqs == list(range(1, per_doc + 1))
            got = store.log(doc)
            assert [e.seq for e in got] == seqs
            assert all(e.payload == {"doc": doc, "n": e.seq} for e in got)


def test_asyncio_writers(make_store, tmp_path):
    async def run(store):
        async def writer(doc):
            for seq in range(1, 21):
                assert await store.append_async(doc, entry(seq, doc)) == seq
            return doc

        done = await asyncio.gather(*(writer(f"doc{i}") for i in range(30)))
        # The blocking API's future can be awaited too.
        await asyncio.wrap_future(store.append("doc0", entry(21, "doc0")))
        return done

    with make_store(tmp_path / "s", durability="relaxed") as store:
        docs = asyncio.run(run(store))
        assert store.committer.stats()["largest_batch"] > 1
        for doc in docs:
            assert store.last_seq(doc) == (21 if doc == "doc0" else 20)


def test_a_refused_change_does_not_spoil_its_batch(make_store, tmp_path):
    with make_store(tmp_path / "s", durability="relaxed", window=0.05) as store:
        store.append("a", entry(1)).result()
        # Submitted together, so they share a batch thanks to the window.
        good = store.commit("b", [entry(1), entry(2)], snapshot=Snapshot(2, b"b2"))
        bad = store.commit("a", [entry(3), entry(4)], snapshot=Snapshot(4, b"a4"), timer=T0)
        also_good = store.append("a", entry(2))
        assert good.result() == 2 and also_good.result() == 2
        with pytest.raises(SequenceConflict, match="'a'"):
            bad.result()
        assert store.log("a") == [entry(1), entry(2)]
        assert store.snapshot("a") is None and store.timer("a") is None
        assert store.committer.stats()["largest_batch"] == 3


def test_pipelined_changes_of_one_document_apply_in_order(make_store, tmp_path):
    with make_store(tmp_path / "s", durability="relaxed") as store:
        futures = [store.append("d", entry(seq)) for seq in range(1, 201)]
        assert [f.result() for f in futures] == list(range(1, 201))
        assert [e.seq for e in store.log("d")] == list(range(1, 201))


def test_cancelled_before_its_batch_writes_nothing(make_store, tmp_path):
    with make_store(tmp_path / "s", durability="relaxed", window=0.2) as store:
        first = store.append("a", entry(1))  # holds the batch open for the window
        cancelled = store.append("b", entry(1))
        assert cancelled.cancel()
        assert first.result() == 1
        assert store.log("b") == []


def test_closing_commits_what_was_submitted_and_refuses_more(make_store, tmp_path):
    store = make_store(tmp_path / "s", durability="relaxed")
    pending = [store.append("d", entry(seq)) for seq in range(1, 51)]
    store.close()
    assert [f.result(timeout=0) for f in pending] == list(range(1, 51))
    with pytest.raises(StoreClosed):
        store.append("d", entry(51)).result()
    with pytest.raises(StoreClosed):
        store.load("d")
    store.close()  # twice is fine
    with make_store(tmp_path / "s", durability="relaxed") as again:
        assert again.last_seq("d") == 50


def test_read_only_store_serves_reads_and_refuses_writes(make_store, tmp_path):
    with make_store(tmp_path / "s", durability="relaxed") as store:
        store.commit("d", [entry(1)], snapshot=Snapshot(1, b"one")).result()
    with make_store(tmp_path / "s", readonly=True) as ro:
        assert ro.load("d").snapshot.data == b"one"
        with pytest.raises(StoreError, match="read-only"):
            ro.append("d", entry(2))
    with pytest.raises(StoreError, match="no store"):
        make_store(tmp_path / "missing", readonly=True)


def test_second_open_in_one_process_is_a_clear_error(tmp_path):
    with Store(tmp_path / "s", durability="relaxed"):
        with pytest.raises(StoreError, match="already open"):
            Store(tmp_path / "s", durability="relaxed")


def test_futures_are_concurrent_futures(make_store, tmp_path):
    with make_store(tmp_path / "s", durability="relaxed") as store:
        fut = store.append("d", entry(1))
        assert isinstance(fut, cf.Future)
        assert fut.result() == 1


def test_a_failed_flush_fails_the_store_not_just_the_batch(tmp_path):
    import lmdb

    store = Store(tmp_path / "s", durability="relaxed")
    store.append("d", entry(1)).result()
    real_begin = store.env.begin_write

    class FailingCommit:
        """A write transaction whose commit fails the way a disk error would."""

        def __init__(self):
            self.txn = real_begin()

        def __getattr__(self, name):
            return getattr(self.txn, name)

        def commit(self):
            self.txn.abort()
            raise lmdb.DiskError("mdb_txn_commit: Input/output error")

    store.env.begin_write = FailingCommit
    with pytest.raises(StoreError, match="failed .*Input/output error"):
        store.append("d", entry(2)).result()
    store.env.begin_write = real_begin
    # After a failed flush nothing more can be promised: later writes are refused too.
    with pytest.raises(StoreError, match="failed"):
        store.append("d", entry(2)).result()
    store.close()
    with Store(tmp_path / "s", durability="relaxed") as again:
        assert [e.seq for e in again.log("d")] == [1]
        assert again.append("d", entry(2)).result() == 2


def test_another_process_writing_is_still_a_sequence_conflict(tmp_path):
    """The committer remembers where logs end between batches; a commit by
    another process makes it forget, so the check still sees the truth."""
    import subprocess
    import sys

    from advm.store import SequenceConflict

    path = tmp_path / "s"
    with Store(path, durability="relaxed") as store:
        store.commit("x", [Entry(1, 1, "send")]).result()
        store.commit("x", [Entry(2, 2, "send")]).result()  # known: x ends at 2
        other = ("import lmdb, sys\n"
                 "from advm.store.env import StoreEnv\n"
                 "from advm.store import Entry, keys, log\n"
                 "env = StoreEnv(sys.argv[1], durability='relaxed')\n"
                 "with env.env.begin(write=True) as txn:\n"
                 "    txn.put(keys.log_key('x', 3), log.encode(Entry(3, 3, 'send')), db=env.log)\n"
                 "env.close()\n")
        subprocess.run([sys.executable, "-c", other, str(path)], check=True, timeout=60)
        with pytest.raises(SequenceConflict, match="ends at seq 3"):
            store.commit("x", [Entry(3, 4, "send")]).result()
        assert store.commit("x", [Entry(4, 4, "send")]).result() == 4
        assert [e.time for e in store.log("x")] == [1, 2, 3, 4]
