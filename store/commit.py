"""Group commit: one thread owns every write transaction and packs the work of
many documents into one synced LMDB commit.

Callers hand the committer an operation (usually one document's transaction:
log entries, maybe a snapshot, maybe a timer change) and get a future. The
committer takes everything queued, applies it in order inside one write
transaction, commits (one flush for the whole batch in synced mode), and only
then resolves the futures: an acknowledgement means durable. This is the
output gate: the runtime sends no result and no delta before its future
resolves.

An operation checks everything it needs (sequence continuity, records it
must read) before it writes, so a refused operation leaves no trace and the
rest of its batch still commits. A full map aborts the batch, grows the map
once and retries; a second failure, or any other LMDB error, fails the whole
batch, and an LMDB error other than a full map also fails the store, because
after a failed flush nothing more can be promised about the disk.
"""
from __future__ import annotations

import asyncio
import concurrent.futures as cf
import queue
import threading
import time
import traceback
from abc import ABC, abstractmethod

import lmdb

from . import keys, log, retention, snapshots, timers
from .env import StoreEnv
from .errors import MapFull, SequenceConflict, StoreClosed, StoreError


class _Keep:
    def __repr__(self):
        return "KEEP"


KEEP = _Keep()  # "leave the timer as it is" (None means "clear it")


_OWN = object()  # an Op's future resolves with what apply() returned
CALLBACK = object()  # Op.loop of an operation acknowledged by a callback, not a future


class Op(ABC):
    """One unit of work; applied atomically within a batch. `answer`: what
    its future resolves with once durable (default: what apply returned);
    `fail`: None, or a function of the error that returns the exception
    the future gets (it runs on the committer thread: keep it tiny)."""

    __slots__ = ("waiter", "loop", "answer", "fail")
    doc: str | None = None

    def size(self) -> int:
        return 0

    @abstractmethod
    def apply(self, batch: "Batch"):
        """Check, then write; raise StoreError (before writing) to refuse."""


def checked_last(doc: str, last: int, entries, snapshot, newest_snapshot_seq) -> int:
    """The log's end after a document's write of `entries` and `snapshot` onto
    a log ending at `last` whose newest snapshot is at `newest_snapshot_seq`
    (None: no snapshot), or SequenceConflict when the write does not follow
    on: the check every store backend makes before it writes anything."""
    new_last = last
    if entries:
        first = entries[0][0]
        if first != last + 1:
            raise SequenceConflict(
                f"document {doc!r}: the log ends at seq {last}, but this write starts at "
                f"seq {first}; another writer may own the document", doc=doc)
        new_last = entries[-1][0]
    if snapshot is not None:
        sseq = snapshot[0]
        fresh = last == 0 and newest_snapshot_seq is None
        if newest_snapshot_seq is not None and sseq < newest_snapshot_seq:
            raise SequenceConflict(
                f"document {doc!r}: snapshot at seq {sseq} is older than the stored one "
                f"at seq {newest_snapshot_seq}", doc=doc)
        if sseq > new_last and not fresh:
            raise SequenceConflict(
                f"document {doc!r}: snapshot at seq {sseq} is ahead of the log, which "
                f"ends at seq {new_last}", doc=doc)
        new_last = max(new_last, sseq)
    return new_last


class Change(Op):
    """One document's transaction."""

    __slots__ = ("doc", "prefix", "entries", "snapshot", "timer", "history")

    def __init__(self, doc: str, prefix: bytes, entries, snapshot, timer, history=None):
        self.doc = doc
        self.prefix = prefix
        self.entries = entries      # [(seq, encoded)] with consecutive seqs
        self.snapshot = snapshot    # (seq, encoded) or None
        self.timer = timer          # KEEP, None (clear) or a due time
        self.history = history      # the document's maximum_history, or None

    def size(self):
        n = sum(len(v) + 64 for _, v in self.entries)
        return n + (len(self.snapshot[1]) + 64 if self.snapshot else 0)

    def apply(self, batch):
        doc, prefix = self.doc, self.prefix
        last = batch.last_seq(prefix)
        newest_seq = None
        if self.snapshot is not None:
            newest = snapshots.latest_key(batch.snap_cursor, prefix)
            newest_seq = keys.key_seq(newest) if newest is not None else None
        new_last = checked_last(doc, last, self.entries, self.snapshot, newest_seq)
        old_due = None
        if self.timer is not KEEP:
            old_due = timers.get(batch.txn, batch.env.timers, doc)
        # Every check passed: write. Log entries are gathered and written
        # once per batch, sorted (Batch.flush); anything that reads or
        # deletes this document's log first flushes them.
        puts = batch.puts
        for seq, value in self.entries:
            puts.append((prefix + seq.to_bytes(8, "big"), value))
        txn = batch.txn
        if self.snapshot is not None:
            txn.put(keys.seq_key(prefix, self.snapshot[0]), self.snapshot[1],
                    db=batch.env.snapshots)
            batch.flush()
            retention.apply(batch.retention, batch.snap_cursor, batch.log_cursor, prefix,
                            self.history)
        if self.timer is not KEEP:
            if self.timer is None:
                timers.clear(txn, batch.env.timers, doc, old_due)
            else:
                timers.put(txn, batch.env.timers, doc, self.timer, old_due)
        batch.last[prefix] = new_last
        return new_last


class DeleteDoc(Op):
    __slots__ = ("doc", "prefix")

    def __init__(self, doc: str, prefix: bytes):
        self.doc = doc
        self.prefix = prefix

    def apply(self, batch):
        batch.flush()
        old_due = timers.get(batch.txn, batch.env.timers, self.doc)
        # Snapshot keys share the log's doc + seq layout, so one helper clears both.
        removed = log.delete_all(batch.log_cursor, self.prefix)
        removed += log.delete_all(batch.snap_cursor, self.prefix)
        timers.clear(batch.txn, batch.env.timers, self.doc, old_due)
        batch.last[self.prefix] = 0
        return removed


class TrimDoc(Op):
    __slots__ = ("doc", "prefix", "policy", "history")

    def __init__(self, doc: str, prefix: bytes, policy, history=None):
        self.doc = doc
        self.prefix = prefix
        self.policy = policy
        self.history = history

    def apply(self, batch):
        batch.flush()
        return retention.apply(self.policy, batch.snap_cursor, batch.log_cursor, self.prefix,
                               self.history)


class Barrier(Op):
    """Writes nothing: its future resolves once every operation written
    before it is durable (the committer applies operations in order)."""

    __slots__ = ()

    def apply(self, batch):
        return None


class PutModule(Op):
    __slots__ = ("digest", "value")

    def __init__(self, digest: bytes, value: bytes):
        self.digest = digest
        self.value = value

    def size(self):
        return len(self.value) + 64

    def apply(self, batch):
        batch.txn.put(keys.module_key(self.digest), self.value, db=batch.env.modules)
        return self.digest


class Batch:
    """State shared by the operations of one write transaction. `known`
    is the committer's memory of where documents' logs end, as of its last
    commit; it is trusted only when no other process committed since."""

    __slots__ = ("env", "txn", "retention", "last", "known", "puts", "wrote", "_log_cursor",
                 "_snap_cursor")

    def __init__(self, env: StoreEnv, txn, policy, known: dict):
        self.env = env
        self.txn = txn
        self.retention = policy
        self.last: dict[bytes, int] = {}
        self.known = known
        self.puts: list = []
        self.wrote = False  # log entries were put: the commit has pages to flush
        self._log_cursor = None
        self._snap_cursor = None

    @property
    def log_cursor(self):
        if self._log_cursor is None:
            self._log_cursor = self.txn.cursor(self.env.log)
        return self._log_cursor

    @property
    def snap_cursor(self):
        if self._snap_cursor is None:
            self._snap_cursor = self.txn.cursor(self.env.snapshots)
        return self._snap_cursor

    def flush(self) -> None:
        """Write the gathered log entries: one call, in key order (measured
        about half the cost of one put per entry for 100 documents)."""
        puts = self.puts
        if puts:
            puts.sort()
            self.log_cursor.putmulti(puts)
            self.puts = []
            self.wrote = True

    def last_seq(self, prefix: bytes) -> int:
        """Where the document's log ends: its last entry, else its newest
        snapshot (a trimmed or imported document), else 0."""
        seq = self.last.get(prefix)
        if seq is None:
            seq = self.known.get(prefix)
        if seq is None:
            # Entries gathered for other documents lie outside this range.
            seq = log.last_seq(self.log_cursor, prefix)
            if not seq:
                newest = snapshots.latest_key(self.snap_cursor, prefix)
                seq = keys.key_seq(newest) if newest is not None else 0
        self.last[prefix] = seq
        return seq


_STOP = object()
_KNOWN_MAX = 1 << 16  # documents whose log end the committer remembers between batches


class GroupCommitter:
    """The single writer. `window` (seconds) is how long the first operation
    of a batch may wait for company; 0 takes whatever is queued, which under
    load still batches because work queues up during each flush."""

    def __init__(self, env: StoreEnv, *, policy=retention.Retention(),
                 window: float = 0.0, max_batch: int = 4096, defer_meta: bool = True):
        self.env = env
        # Synced store: a batch whose commit wrote log entries is held, its
        # acknowledgements not sent, until the next commit's data flush (which
        # also flushes this one's meta page) or an explicit meta flush when
        # nothing more is queued: one flush per batch instead of two
        # (spec/store.md 5). False: every commit's meta is flushed at once.
        self.defer_meta = defer_meta
        self._held: tuple | None = None  # (ops, results) committed, meta not yet on disk
        self.policy = policy
        self.window = window
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._broken: StoreError | None = None
        # Where each document's log ended at our last commit, and that
        # commit's LMDB transaction id: if the next write transaction's id
        # does not follow it, another process wrote, and we forget.
        self._known: dict[bytes, int] = {}
        self._txnid = None
        self.batches = 0
        self.ops = 0
        self.largest_batch = 0
        # Told (seconds, operations) after each batch commits, on this
        # committer's thread (net/metrics.py); it must not block or raise.
        self.observe = None
        self._thread = threading.Thread(target=self._run, name=f"advm-commit:{env.path}",
                                        daemon=True)
        self._thread.start()

    # -- writing --------------------------------------------------------------

    def write(self, op: Op, value=_OWN, fail=None) -> cf.Future:
        """Queue an operation; the future resolves once it is durable (with
        `value` if given; see Op)."""
        fut = cf.Future()
        op.waiter = fut
        op.loop = None
        op.answer = value
        op.fail = fail
        self._put(op)
        return fut

    def write_callback(self, op: Op, callback, value=_OWN, fail=None) -> None:
        """Like write(), without a future: `callback(result, error)` runs on
        the committer thread once the operation is durable (error None) or
        failed (result None). It cannot be cancelled. Keep it tiny."""
        op.waiter = callback
        op.loop = CALLBACK
        op.answer = value
        op.fail = fail
        self._put(op)

    def write_async(self, op: Op, value=_OWN, fail=None) -> asyncio.Future:
        """Like write(), for the running event loop: one loop wake-up per
        batch resolves every future of that loop."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        op.waiter = fut
        op.loop = loop
        op.answer = value
        op.fail = fail
        self._put(op)
        return fut

    def _put(self, op: Op) -> None:
        with self._lock:
            if self._closed or self._broken is not None:
                err = self._broken or StoreClosed(
                    f"store at {self.env.path} is closed", doc=op.doc)
                _resolve([op], [err])
                return
            self._queue.put(op)

    # -- the thread ---------------------------------------------------------------

    def _run(self) -> None:
        q = self._queue
        stop = False
        while not stop:
            if self._held is not None:
                try:
                    op = q.get_nowait()
                except queue.Empty:
                    self._release_held()  # nothing more to carry its meta: flush it now
                    op = q.get()
            else:
                op = q.get()
            if op is _STOP:
                break
            batch = [op]
            deadline = None
            while len(batch) < self.max_batch:
                try:
                    op = q.get_nowait()
                except queue.Empty:
                    if self.window <= 0:
                        break
                    if self._held is not None:
                        self._release_held()  # not held while waiting for company
                    now = time.monotonic()
                    if deadline is None:
                        deadline = now + self.window
                    if now >= deadline:
                        break
                    try:
                        op = q.get(timeout=deadline - now)
                    except queue.Empty:
                        break
                if op is _STOP:
                    stop = True
                    break
                batch.append(op)
            started = time.perf_counter()
            try:
                self._commit(batch)
            except Exception as exc:
                # Not reached unless the committer itself is broken; fail loudly
                # rather than leave callers waiting on futures nobody resolves.
                self._broken = StoreError(
                    f"store committer at {self.env.path} stopped: {exc!r}")
                self._fail_held()
                _resolve(batch, [self._broken] * len(batch))
            else:
                if self.observe is not None:
                    try:
                        self.observe(time.perf_counter() - started, len(batch))
                    except Exception:
                        pass  # a broken observer must not stop the store
            # Not held while waiting for the next batch: the ops hold their
            # documents' last snapshot and callbacks (an unloaded document's).
            batch = op = None
        self._release_held()

    def _commit(self, batch: list[Op]) -> None:
        live = [op for op in batch if _claim(op)]
        if not live:
            return
        if self._broken is not None:
            _resolve(live, [self._broken] * len(live))
            return
        held = carried = False
        for attempt in (0, 1):
            txn = None
            try:
                txn = self.env.begin_write()
                txnid = txn.id()
                if self._txnid is None or txnid != self._txnid + 1:
                    self._known.clear()
                work = Batch(self.env, txn, self.policy, self._known)
                results = [_apply(work, op) for op in live]
                work.flush()
                txn.commit()
                if self.env.flush_meta:
                    if self.defer_meta and work.wrote:
                        # The commit flushed its data pages, and with them the
                        # meta page of the batch held before it: that one is
                        # durable; this one waits for the next flush.
                        held = True
                    else:
                        self.env.sync_meta()  # durable from here: data, then meta
                    carried = True
                self._txnid = txnid
                if len(self._known) > _KNOWN_MAX:  # a cache: a host with many documents
                    self._known.clear()
                self._known.update(work.last)
            except lmdb.MapFullError:
                _abort(txn)
                self._forget()
                if attempt == 0 and self.env.grow(sum(op.size() for op in live)):
                    continue
                size, cap = self.env.map_size, self.env.map_cap
                results = [MapFull(
                    f"store at {self.env.path} is full: map size {size} bytes, cap {cap}; "
                    f"nothing was written for {_who(op)}. Raise the cap or free space.",
                    doc=op.doc) for op in live]
            except lmdb.Error as exc:
                _abort(txn)
                self._forget()
                self._broken = StoreError(
                    f"store at {self.env.path} failed ({exc}); nothing after the last "
                    "acknowledged commit is durable. Restart to recover from disk.")
                self._fail_held()
                results = [self._broken] * len(live)
            except Exception as exc:  # a bug in an operation: fail this batch only
                _abort(txn)
                self._forget()
                results = [StoreError(f"internal error committing {_who(op)}: {exc!r}",
                                      doc=op.doc) for op in live]
            break
        self.batches += 1
        self.ops += len(live)
        self.largest_batch = max(self.largest_batch, len(live))
        if self._held is not None:
            # Carried by this commit's flush; else this batch failed without
            # one, and the held batch is flushed now.
            self._release_held(flushed=carried)
        if held:
            self._held = (live, results)
            return
        _resolve(live, results)

    def _release_held(self, flushed: bool = False) -> None:
        """Acknowledge the batch whose meta page waited for a flush: `flushed`
        when a later commit's data flush carried it, else flush it now (a
        failure fails it and the store)."""
        if self._held is None:
            return
        live, results = self._held
        if not flushed:
            try:
                self.env.sync_meta()
            except lmdb.Error as exc:
                self._forget()
                self._broken = StoreError(
                    f"store at {self.env.path} failed ({exc}); nothing after the last "
                    "acknowledged commit is durable. Restart to recover from disk.")
                self._fail_held()
                return
        self._held = None
        _resolve(live, results)

    def _fail_held(self) -> None:
        if self._held is not None:
            live, _ = self._held
            self._held = None
            _resolve(live, [self._broken] * len(live))

    def _forget(self) -> None:
        self._known.clear()
        self._txnid = None

    # -- closing -------------------------------------------------------------------

    def close(self) -> None:
        """Commit everything already written to it, then stop the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join()
        leftovers = []
        while True:
            try:
                op = self._queue.get_nowait()
            except queue.Empty:
                break
            if op is not _STOP:
                leftovers.append(op)
        if leftovers:
            err = StoreClosed(f"store at {self.env.path} closed")
            _resolve(leftovers, [err] * len(leftovers))

    def stats(self) -> dict:
        return {"batches": self.batches, "ops": self.ops, "largest_batch": self.largest_batch,
                "mean_batch": self.ops / self.batches if self.batches else 0.0}


def _apply(batch: Batch, op: Op):
    try:
        return op.apply(batch)
    except StoreError as err:
        return err


def _claim(op: Op) -> bool:
    """False when the caller cancelled before the batch started (nothing is
    written); afterwards the future can no longer be cancelled."""
    loop = op.loop
    if loop is None:
        return op.waiter.set_running_or_notify_cancel()
    return loop is CALLBACK or not op.waiter.cancelled()


def _abort(txn) -> None:
    if txn is not None:
        try:
            txn.abort()
        except lmdb.Error:
            pass


def _who(op: Op) -> str:
    return f"document {op.doc!r}" if op.doc is not None else type(op).__name__


def _resolve(ops, results) -> None:
    loops: dict = {}
    for op, res in zip(ops, results):
        if isinstance(res, BaseException):
            if op.fail is not None:
                res = op.fail(res)
        elif op.answer is not _OWN:
            res = op.answer
        loop = op.loop
        if loop is None:
            fut = op.waiter
            if fut.done():
                continue
            if isinstance(res, BaseException):
                fut.set_exception(res)
            else:
                fut.set_result(res)
        elif loop is CALLBACK:
            try:
                if isinstance(res, BaseException):
                    op.waiter(None, res)
                else:
                    op.waiter(res, None)
            except Exception:  # a caller's bug must not stop the others' acknowledgements
                traceback.print_exc()
        else:
            loops.setdefault(op.loop, []).append((op.waiter, res))
    for loop, items in loops.items():
        try:
            loop.call_soon_threadsafe(_settle, items)
        except RuntimeError:
            pass  # the loop is closed: nobody is left to tell


def _settle(items) -> None:
    for fut, res in items:
        if fut.done():
            continue
        if isinstance(res, BaseException):
            fut.set_exception(res)
        else:
            fut.set_result(res)
