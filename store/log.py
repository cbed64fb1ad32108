"""The per-document input log: document key + sequence number -> CBOR envelope.

An envelope records one input as the runtime received it (document time,
principal, kind, channel, payload, plus any extra fields the runtime adds).
The sequence number is in the key and repeated in the value, so a record
copied under the wrong key is caught on read. Sequence numbers start at 1 and
have no holes; the committer refuses a write that would make one.
"""
from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping, NamedTuple

from . import keys, records
from .errors import CorruptRecord

DB = "log"
_RESERVED = frozenset({"seq", "time", "kind", "principal", "channel", "payload"})
_NO_EXTRA: Mapping[str, Any] = MappingProxyType({})


class Entry(NamedTuple):
    """One logged input. `time` is document time in milliseconds since the
    Unix epoch; principal and payload are any CBOR-encodable values; `extra`
    holds further envelope fields the runtime adds. A tuple, because replay
    builds one per logged input and a frozen dataclass costs 7x more to build."""

    seq: int
    time: int
    kind: str
    principal: Any = None
    channel: str | None = None
    payload: Any = None
    extra: Mapping[str, Any] = _NO_EXTRA

    def envelope(self) -> dict:
        out = {"seq": self.seq, "time": self.time, "kind": self.kind}
        if self.principal is not None:
            out["principal"] = self.principal
        if self.channel is not None:
            out["channel"] = self.channel
        if self.payload is not None:
            out["payload"] = self.payload
        if self.extra:
            clash = _RESERVED.intersection(self.extra)
            if clash:
                raise ValueError(f"extra envelope fields shadow reserved ones: {sorted(clash)}")
            out.update(self.extra)
        return out


def encode(entry: Entry) -> bytes:
    if type(entry.seq) is not int or not 1 <= entry.seq <= keys.SEQ_MAX:
        raise ValueError(f"log sequence numbers start at 1, got {entry.seq!r}")
    if type(entry.time) is not int or entry.time < 0:
        raise ValueError(f"entry time must be a non-negative int (ms), got {entry.time!r}")
    if not isinstance(entry.kind, str):
        raise ValueError(f"entry kind must be a string, got {entry.kind!r}")
    return records.pack(records.KIND_LOG, entry.envelope())


def decode(doc: str, key: bytes, raw) -> Entry:
    env = records.unpack(records.KIND_LOG, raw, doc=doc, db=DB, key=key)
    # Fast path for well-formed envelopes (replay decodes every entry);
    # anything unusual goes through the checks that explain what is wrong.
    try:
        seq, time, kind = env["seq"], env["time"], env["kind"]
    except (KeyError, TypeError):
        seq = time = kind = None
    if type(seq) is not int or type(time) is not int or type(kind) is not str:
        for name, types in (("seq", int), ("time", int), ("kind", str)):
            records.field(env, name, types, doc=doc, db=DB, key=key)
    if seq != keys.key_seq(key):
        raise records.corrupt(f"envelope says seq {seq} but is stored under seq "
                              f"{keys.key_seq(key)}", doc, DB, key)
    principal, channel, payload = env.get("principal"), env.get("channel"), env.get("payload")
    known = 3 + (principal is not None) + (channel is not None) + (payload is not None)
    extra = ({k: v for k, v in env.items() if k not in _RESERVED} if len(env) > known
             else _NO_EXTRA)
    return Entry(seq, time, kind, principal, channel, payload, extra)


def last_seq(cursor, prefix: bytes) -> int:
    """Highest logged seq of the document with this prefix, 0 when none."""
    if cursor.set_range(keys.range_end(prefix)):
        found = cursor.prev()
    else:
        found = cursor.last()
    if found:
        key = cursor.key()
        if key[:len(prefix)] == prefix:
            return keys.key_seq(key)
    return 0


def first_seq(cursor, prefix: bytes) -> int:
    """Lowest logged seq of the document, 0 when none (the log may be trimmed)."""
    if cursor.set_range(prefix):
        key = cursor.key()
        if key[:len(prefix)] == prefix:
            return keys.key_seq(key)
    return 0


_HEAD = records.HEADER_SIZE
_GOOD = (records.MAGIC, records.RECORD_VERSION, records.KIND_LOG)


def _quick(raw, seq: int):
    """The entry of a well-formed log record, or None (then `decode` checks
    it the long way and says what is wrong). Replay reads every entry."""
    magic, version, kind, crc = records._unpack_from(raw)
    if (magic, version, kind) != _GOOD:
        return None
    body = raw[_HEAD:]
    if records._crc32(body) != crc:
        return None
    try:
        env = records._loads(body)
        if env["seq"] != seq or type(env["time"]) is not int or type(env["kind"]) is not str:
            return None
    except Exception:
        return None
    get = env.get
    principal, channel, payload = get("principal"), get("channel"), get("payload")
    known = 3 + (principal is not None) + (channel is not None) + (payload is not None)
    extra = ({k: v for k, v in env.items() if k not in _RESERVED} if len(env) > known
             else _NO_EXTRA)
    return Entry(seq, env["time"], env["kind"], principal, channel, payload, extra)


def read(txn, db, doc: str, *, after: int = 0, until: int | None = None,
         limit: int | None = None, contiguous: bool = True) -> list[Entry]:
    """Entries with after < seq <= until, in order. With `contiguous`, a gap
    between `after` and the last entry returned raises CorruptRecord."""
    prefix = keys.doc_prefix(doc)
    plen = len(prefix)
    out: list[Entry] = []
    cursor = txn.cursor(db)
    if not cursor.set_range(keys.seq_key(prefix, after + 1)):
        return out
    expect = after + 1
    from_bytes = int.from_bytes
    append = out.append
    for key, raw in cursor.iternext():
        if key[:plen] != prefix:
            break
        seq = from_bytes(key[-keys.SEQ_BYTES:], "big")
        if until is not None and seq > until:
            break
        if contiguous and seq != expect:
            raise CorruptRecord(
                f"log of document {doc!r} has a hole: seq {expect} is missing "
                f"(next present is {seq})", doc=doc, db=DB, key=bytes(key))
        entry = _quick(raw, seq) if len(raw) > _HEAD else None
        append(entry if entry is not None else decode(doc, key, raw))
        expect = seq + 1
        if limit is not None and len(out) >= limit:
            break
    return out


def delete_through(cursor, prefix: bytes, upto: int) -> int:
    """Delete the document's entries with seq <= upto; returns how many."""
    removed = 0
    if not cursor.set_range(prefix):
        return 0
    while True:
        key = cursor.key()
        if key[:len(prefix)] != prefix or keys.key_seq(key) > upto:
            return removed
        # Cursor.delete moves to the next record, or returns False at the end.
        removed += 1
        if not cursor.delete() or not cursor.key():
            return removed


def delete_all(cursor, prefix: bytes) -> int:
    return delete_through(cursor, prefix, keys.SEQ_MAX)
