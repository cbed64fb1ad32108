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
from typing import Iterator, NamedTuple

from . import keys, log, modules, snapshots, timers
from .commit import GroupCommitter
from .env import DEFAULT_DIR, DEFAULT_MAP_CAP, DEFAULT_MAP_SIZE, Durability, StoreEnv
from .log import Entry
from .retention import Retention
from .snapshots import Snapshot
from .writes import StoreWrites


class Recovery(NamedTuple):
    """What a document needs to come back: its newest snapshot (None if it
    has none), the seq that snapshot includes (0 without one) and the log
    entries after it, in order and without holes."""

    snapshot: Snapshot | None
    seq: int
    entries: list[Entry]


class Store(StoreWrites):
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

    # -- reads -------------------------------------------------------------------

    def load(self, doc: str) -> Recovery:
        """The newest snapshot and the log after it; (None, 0, []) for an
        unknown document. Raises CorruptRecord rather than return a document
        built from damaged records or a log with holes. The snapshot's CRC is
        checked, its content hash is not (spec/store.md 3: the same bytes
        twice; snapshot() checks it)."""
        keys.doc_bytes(doc)
        with self.env.read() as txn:
            snap = snapshots.latest(txn, self.env.snapshots, doc, verify=False)
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
