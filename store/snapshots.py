"""Document snapshots: opaque bytes tagged with the seq they include, the
runtime's snapshot format version and a sha256 content hash.

A document keeps its snapshots under doc + seq, so the latest is the last key
of its range and older ones form the history that the retention policy trims.
The content hash is over the data bytes exactly; `advm replay` recomputes it
from a replayed state to prove the log and the snapshot agree.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import cbor2

from . import keys, records

DB = "snapshots"


def content_hash(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A document's state after the input with sequence number `seq`
    (0 = before any logged input). `format` is the runtime's own snapshot
    format version; the store does not interpret `data`."""

    seq: int
    data: bytes
    format: int = 1
    time: int | None = None
    hash: bytes = b""

    def __post_init__(self):
        if type(self.seq) is not int or not 0 <= self.seq <= keys.SEQ_MAX:
            raise ValueError(f"snapshot seq must be an int in 0..2**64-1, got {self.seq!r}")
        if not isinstance(self.data, (bytes, bytearray, memoryview)):
            raise TypeError("snapshot data must be bytes; use Snapshot.of() for other values")
        if not isinstance(self.data, bytes):
            object.__setattr__(self, "data", bytes(self.data))
        if not self.hash:
            object.__setattr__(self, "hash", content_hash(self.data))

    @classmethod
    def of(cls, seq: int, value, *, format: int = 1, time: int | None = None) -> "Snapshot":
        """A snapshot of any CBOR-encodable value (canonical encoding, so
        equal values hash equal)."""
        return cls(seq, cbor2.dumps(value, canonical=True), format, time)

    def value(self):
        """The value given to Snapshot.of()."""
        return cbor2.loads(self.data)


def encode(snap: Snapshot) -> bytes:
    body = {"seq": snap.seq, "format": snap.format, "hash": snap.hash, "data": snap.data}
    if snap.time is not None:
        body["time"] = snap.time
    return records.pack(records.KIND_SNAPSHOT, body)


def decode(doc: str, key: bytes, raw, *, verify: bool = True) -> Snapshot:
    rec = records.unpack(records.KIND_SNAPSHOT, raw, doc=doc, db=DB, key=key)
    seq = records.field(rec, "seq", int, doc=doc, db=DB, key=key)
    if seq != keys.key_seq(key):
        raise records.corrupt(f"snapshot says seq {seq} but is stored under seq "
                              f"{keys.key_seq(key)}", doc, DB, key)
    fmt = records.field(rec, "format", int, doc=doc, db=DB, key=key)
    digest = records.field(rec, "hash", bytes, doc=doc, db=DB, key=key)
    data = records.field(rec, "data", bytes, doc=doc, db=DB, key=key)
    time = rec.get("time")
    if verify and content_hash(data) != digest:
        raise records.corrupt("content hash mismatch (snapshot data changed after it was "
                              "written)", doc, DB, key)
    return Snapshot(seq, data, fmt, time, digest)


def latest_key(cursor, prefix: bytes):
    """Key of the document's newest snapshot, or None."""
    if cursor.set_range(keys.range_end(prefix)):
        found = cursor.prev()
    else:
        found = cursor.last()
    if found:
        key = cursor.key()
        if key[:len(prefix)] == prefix:
            return bytes(key)
    return None


def latest(txn, db, doc: str, *, verify: bool = True) -> Snapshot | None:
    cursor = txn.cursor(db)
    key = latest_key(cursor, keys.doc_prefix(doc))
    if key is None:
        return None
    return decode(doc, key, cursor.value(), verify=verify)


def at(txn, db, doc: str, seq: int, *, verify: bool = True) -> Snapshot | None:
    key = keys.snapshot_key(doc, seq)
    raw = txn.get(key, db=db)
    return None if raw is None else decode(doc, key, raw, verify=verify)


def seqs(cursor, prefix: bytes) -> list[int]:
    """Sequence numbers of every snapshot kept for the document, ascending."""
    out = []
    if not cursor.set_range(prefix):
        return out
    for key in cursor.iternext(keys=True, values=False):
        if key[:len(prefix)] != prefix:
            break
        out.append(keys.key_seq(key))
    return out


def keep_newest(cursor, prefix: bytes, keep: int) -> int | None:
    """Delete all but the newest `keep` snapshots; return the oldest kept seq."""
    held = seqs(cursor, prefix)
    if not held:
        return None
    delete_seqs(cursor, prefix, held[:-keep] if keep < len(held) else ())
    return held[max(0, len(held) - keep)]


def delete_seqs(cursor, prefix: bytes, gone) -> None:
    for seq in gone:
        if cursor.set_key(keys.seq_key(prefix, seq)):
            cursor.delete()
