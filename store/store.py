"""The Store: one host directory's durable state, as the runtime sees it.

Writes go through the group committer and return futures that resolve once
durable (`commit`, `append`, ... for threads; the `*_async` forms for asyncio).
Reads run in the caller's thread inside one LMDB read transaction each and
copy what they return, so nothing returned points into the memory map.
Recovery is `load(doc)`: the newest snapshot plus the log entries after it.

Only one Store may be open per directory in a process (an LMDB rule); other
processes may open the same directory, e.g. read-only for inspection.
"""
from __future__ import annotations

import os
from typing import Iterable, Iterator, NamedTuple

from . import commit as commit_mod
from . import keys, log, modules, snapshots, timers
from .commit import KEEP, GroupCommitter
from .env import DEFAULT_DIR, DEFAULT_MAP_CAP, DEFAULT_MAP_SIZE, Durability, StoreEnv
from .errors import StoreError
from .log import Entry
from .retention import Retention
from .snapshots import Snapshot


class Recovery(NamedTuple):
    """What a document needs to come back: its newest snapshot (None if it
    has none), the seq that snapshot includes (0 without one) and the log
    entries after it, in order and without holes."""

    snapshot: Snapshot | None
    seq: int
    entries: list[Entry]


class Store:
    def __init__(self, path: str | os.PathLike = DEFAULT_DIR, *,
                 durability: Durability | str = Durability.SYNCED,
                 map_size: int = DEFAULT_MAP_SIZE, map_cap: int = DEFAULT_MAP_CAP,
                 readonly: bool = False, retention: Retention = Retention(),
                 window: float = 0.0, max_batch: int = 4096):
        self.env = StoreEnv(path, durability=durability, map_size=map_size,
                            map_cap=map_cap, readonly=readonly)
        self.retention = retention
        self.committer = None if readonly else GroupCommitter(
            self.env, policy=retention, window=window, max_batch=max_batch)

    @property
    def path(self):
        return self.env.path

    @property
    def durability(self) -> Durability:
        return self.env.durability

    # -- writes ------------------------------------------------------------------

    def commit(self, doc: str, entries: Iterable[Entry] = (), *,
               snapshot: Snapshot | None = None, timer=KEEP, history: int | None = None,
               value=commit_mod._OWN, fail=None):
        """Log `entries` (consecutive seqs continuing the document's log),
        optionally store a snapshot and set (due time) or clear (None) the
        document's wake time, all in one atomic step. Returns a
        concurrent.futures.Future of the document's last seq (or of `value`,
        when given), resolved once durable; `fail` maps an error to the
        exception the future gets (on the committer thread). `history` is
        the document's maximum_history (section 7), applied with a snapshot.
        Bad arguments raise here, in the caller."""
        return self._writer().write(self._change(doc, entries, snapshot, timer, history),
                                     value, fail)

    def commit_async(self, doc: str, entries: Iterable[Entry] = (), *,
                     snapshot: Snapshot | None = None, timer=KEEP, history: int | None = None,
                     value=commit_mod._OWN, fail=None):
        """commit() for asyncio code: returns an asyncio.Future of the running loop."""
        return self._writer().write_async(self._change(doc, entries, snapshot, timer, history),
                                           value, fail)

    def append_envelope(self, doc: str, env: dict | bytes, *, seq: int | None = None, timer=KEEP,
                        value=commit_mod._OWN, fail=None, callback=None):
        """commit() of one entry given as its envelope map (inputs.envelope),
        or as its record already packed (bytes, as durable/inputs.py record()
        packs them) with its `seq`: a durable document's hot path, encoded
        once, straight into the committer's operation. The envelope must be
        well formed (seq and time ints, kind text; a record's seq the one it
        holds, which every read checks); the committer still checks the seq
        follows the log. With `callback`, no future: callback(result, error)
        on the committer thread."""
        if timer is not KEEP and timer is not None and (
                type(timer) is not int or not 0 <= timer <= keys.TIME_MAX):
            raise ValueError(f"timer must be None or a due time in ms, got {timer!r}")
        if type(env) is bytes:
            if type(seq) is not int or not 1 <= seq <= keys.SEQ_MAX:
                raise ValueError(f"a packed record needs its seq, got {seq!r}")
            entry = (seq, env)
        else:
            entry = (env["seq"], log.pack_envelope(env))
        op = commit_mod.Change(doc, keys.doc_prefix(doc), [entry], None, timer)
        if callback is not None:
            return self._writer().write_callback(op, callback, value, fail)
        return self._writer().write(op, value, fail)

    def barrier(self, value=None):
        """A future that resolves (with `value`) once everything written
        before it is durable."""
        return self._writer().write(commit_mod.Barrier(), value)

    def append(self, doc: str, entry: Entry):
        return self.commit(doc, (entry,))

    def append_async(self, doc: str, entry: Entry):
        return self.commit_async(doc, (entry,))

    def schedule(self, doc: str, due: int | None):
        """Set the document's wake time (ms), or clear it with None."""
        return self.commit(doc, timer=due)

    def delete(self, doc: str):
        """Remove the document's log, snapshots and timer. Future of the record count."""
        return self._writer().write(commit_mod.DeleteDoc(doc, keys.doc_prefix(doc)))

    def trim(self, doc: str, policy: Retention | None = None, *, history: int | None = None):
        """Apply a retention policy (and a document's maximum_history) now.
        Future of (snapshots, entries) removed."""
        return self._writer().write(
            commit_mod.TrimDoc(doc, keys.doc_prefix(doc), policy or self.retention, history))

    def put_module(self, code: bytes, info: dict | None = None):
        """Store compiled code by its sha256. Future of the 32-byte digest."""
        code = bytes(code)
        op = commit_mod.PutModule(modules.module_hash(code), modules.encode(code, info))
        return self._writer().write(op)

    def _writer(self) -> GroupCommitter:
        if self.committer is None:
            raise StoreError(f"store at {self.path} is open read-only")
        return self.committer

    @staticmethod
    def _change(doc, entries, snapshot, timer, history=None) -> commit_mod.Change:
        prefix = keys.doc_prefix(doc)
        encoded = []
        prev = None
        encode = log.encode
        for entry in entries:
            if prev is not None and entry.seq != prev + 1:
                raise ValueError(f"document {doc!r}: entries in one commit must have "
                                 f"consecutive seqs, got {prev} then {entry.seq}")
            encoded.append((entry.seq, encode(entry)))
            prev = entry.seq
        snap = None
        if snapshot is not None:
            if not isinstance(snapshot, Snapshot):
                raise TypeError(f"snapshot must be a store Snapshot, not {type(snapshot).__name__}")
            snap = (snapshot.seq, snapshots.encode(snapshot))
        if timer is not KEEP and timer is not None:
            if type(timer) is not int or not 0 <= timer <= keys.TIME_MAX:
                raise ValueError(f"timer must be None or a due time in ms, got {timer!r}")
        if not encoded and snap is None and timer is KEEP:
            raise ValueError(f"document {doc!r}: a commit needs entries, a snapshot or a timer")
        if history is not None and (type(history) is not int or history < 1):
            raise ValueError(f"maximum_history must be None or an int >= 1, got {history!r}")
        return commit_mod.Change(doc, prefix, encoded, snap, timer, history)

    # -- reads -------------------------------------------------------------------

    def load(self, doc: str) -> Recovery:
        """The newest snapshot and the log after it; (None, 0, []) for an
        unknown document. Raises CorruptRecord rather than return a document
        built from damaged records or a log with holes."""
        keys.doc_bytes(doc)
        with self.env.read() as txn:
            snap = snapshots.latest(txn, self.env.snapshots, doc)
            seq = snap.seq if snap is not None else 0
            entries = log.read(txn, self.env.log, doc, after=seq)
        return Recovery(snap, seq, entries)

    def log(self, doc: str, *, after: int = 0, until: int | None = None,
            limit: int | None = None) -> list[Entry]:
        """Logged entries with after < seq <= until. Starting before a trimmed
        log's first entry is not a hole; a gap after it is."""
        with self.env.read() as txn:
            first = log.first_seq(txn.cursor(self.env.log), keys.doc_prefix(doc))
            start = max(after, first - 1) if first else after
            return log.read(txn, self.env.log, doc, after=start, until=until, limit=limit)

    def entries(self, doc: str, *, after: int = 0, until: int | None = None,
                chunk: int = 1024) -> Iterator[Entry]:
        """log() in chunks, each in its own read transaction: for long replays."""
        while True:
            batch = self.log(doc, after=after, until=until, limit=chunk)
            yield from batch
            if len(batch) < chunk:
                return
            after = batch[-1].seq

    def last_seq(self, doc: str) -> int:
        """Where the document's log ends (its newest snapshot if the log is trimmed)."""
        prefix = keys.doc_prefix(doc)
        with self.env.read() as txn:
            seq = log.last_seq(txn.cursor(self.env.log), prefix)
            if not seq:
                key = snapshots.latest_key(txn.cursor(self.env.snapshots), prefix)
                seq = keys.key_seq(key) if key is not None else 0
            return seq

    def first_seq(self, doc: str) -> int:
        """The oldest seq still in the log (0 when the log is empty)."""
        with self.env.read() as txn:
            return log.first_seq(txn.cursor(self.env.log), keys.doc_prefix(doc))

    def snapshot(self, doc: str, seq: int | None = None, *, verify: bool = True) -> Snapshot | None:
        """The newest snapshot, or the one at exactly `seq`."""
        with self.env.read() as txn:
            if seq is None:
                return snapshots.latest(txn, self.env.snapshots, doc, verify=verify)
            return snapshots.at(txn, self.env.snapshots, doc, seq, verify=verify)

    def snapshot_seqs(self, doc: str) -> list[int]:
        with self.env.read() as txn:
            return snapshots.seqs(txn.cursor(self.env.snapshots), keys.doc_prefix(doc))

    def documents(self) -> list[str]:
        """Every document with a log or a snapshot, sorted."""
        found: set[str] = set()
        with self.env.read() as txn:
            for db in (self.env.log, self.env.snapshots):
                cursor = txn.cursor(db)
                more = cursor.first()
                while more:
                    raw = keys.doc_of_prefixed(cursor.key())
                    found.add(raw.decode("utf-8"))
                    more = cursor.set_range(raw + b"\x01")
        return sorted(found)

    def timer(self, doc: str) -> int | None:
        with self.env.read() as txn:
            return timers.get(txn, self.env.timers, doc)

    def due(self, now: int, limit: int | None = None) -> list[tuple[int, str]]:
        """(due, doc) of every document to wake at or before `now`, earliest first."""
        with self.env.read() as txn:
            return timers.due(txn, self.env.timers, now, limit)

    def next_due(self) -> tuple[int, str] | None:
        with self.env.read() as txn:
            return timers.next_due(txn, self.env.timers)

    def module(self, digest: bytes) -> tuple[bytes, dict] | None:
        with self.env.read() as txn:
            return modules.get(txn, self.env.modules, digest)

    def module_hashes(self) -> list[bytes]:
        with self.env.read() as txn:
            return modules.hashes(txn, self.env.modules)

    def info(self) -> dict:
        """Sizes and counters, for `advm` tools and benchmarks."""
        with self.env.read() as txn:
            counts = {name: txn.stat(getattr(self.env, name))["entries"]
                      for name in ("log", "snapshots", "timers", "modules")}
        out = {"path": str(self.path), "durability": self.durability.value,
               "map_size": self.env.map_size, "map_cap": self.env.map_cap, "records": counts}
        if self.committer is not None:
            out["commits"] = self.committer.stats()
        return out

    # -- lifetime ------------------------------------------------------------------

    def close(self) -> None:
        """Finish every write handed in, flush, and release the directory."""
        if self.committer is not None:
            self.committer.close()
        if not self.env.closed:
            try:
                self.env.sync()
            finally:
                self.env.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
