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


# The encoded envelope is a CBOR array, not a map: replay decodes every entry,
# and an array of values decodes in about half the time of the same map with
# its keys (spec/store.md 3). Positions:
#   0 seq, 1 time, 2 kind, 3 principal, 4 channel, 5 payload (null: absent),
#   6 outcome (text), 7 digest (bytes): null when absent or of another type,
#   8 (optional) a map of every other extra field, and of outcome or digest
#     when they are not text or bytes, so that any envelope round-trips.
_FIELDS = ("seq", "time", "kind", "principal", "channel", "payload", "outcome", "digest")
_POSITIONAL = frozenset(_FIELDS)


def pack_envelope(env: Mapping[str, Any]) -> bytes:
    """The record of an envelope given as its map (inputs.envelope, or
    Entry.envelope()): the one place that lays out the positional form."""
    get = env.get
    principal, channel, payload = get("principal"), get("channel"), get("payload")
    outcome, digest = get("outcome"), get("digest")
    row = [env["seq"], env["time"], env["kind"], principal, channel, payload, outcome, digest]
    if (type(outcome) is not str or type(digest) is not bytes
            or len(env) != 5 + (principal is not None) + (channel is not None)
            + (payload is not None)):
        # not the usual input entry: other extra fields, or outcome or digest
        # absent, null or of another type
        _general(env, row)
    body = _dumps(row)
    return _header_pack(_MAGIC, _VERSION, _KIND, _crc32(body)) + body


def pack_input(seq: int, time: int, kind: str, principal, channel, payload, outcome: str,
               digest: bytes) -> bytes:
    """pack_envelope() of the usual input entry, given as its fields: no
    extra field, the outcome text and the digest bytes (a durable document's
    hot path: the same bytes, without the map in between)."""
    body = _dumps([seq, time, kind, principal, channel, payload, outcome, digest])
    return _header_pack(_MAGIC, _VERSION, _KIND, _crc32(body)) + body


def _general(env: Mapping[str, Any], row: list) -> None:
    outcome, digest = row[6], row[7]
    if type(outcome) is not str:
        row[6] = None
    if type(digest) is not bytes:
        row[7] = None
    rest = {k: v for k, v in env.items() if k not in _POSITIONAL}
    if "outcome" in env and row[6] is None:
        rest["outcome"] = outcome
    if "digest" in env and row[7] is None:
        rest["digest"] = digest
    if rest:
        row.append(rest)


def encode(entry: Entry) -> bytes:
    if type(entry.seq) is not int or not 1 <= entry.seq <= keys.SEQ_MAX:
        raise ValueError(f"log sequence numbers start at 1, got {entry.seq!r}")
    if type(entry.time) is not int or entry.time < 0:
        raise ValueError(f"entry time must be a non-negative int (ms), got {entry.time!r}")
    if not isinstance(entry.kind, str):
        raise ValueError(f"entry kind must be a string, got {entry.kind!r}")
    return pack_envelope(entry.envelope())


_new_entry = tuple.__new__  # Entry(...) runs a Python-level __new__; this is the same tuple


def _entry(row: list) -> Entry:
    # row is a well-formed positional envelope (checked by the caller)
    outcome, digest = row[6], row[7]
    if len(row) > 8:
        extra = {}
        if outcome is not None:
            extra["outcome"] = outcome
        if digest is not None:
            extra["digest"] = digest
        extra.update(row[8])
    elif outcome is not None:
        extra = {"outcome": outcome} if digest is None else {"outcome": outcome, "digest": digest}
    elif digest is not None:
        extra = {"digest": digest}
    else:
        extra = _NO_EXTRA
    return _new_entry(Entry, (row[0], row[1], row[2], row[3], row[4], row[5], extra))


def decode(doc: str, key: bytes, raw) -> Entry:
    row = records.unpack(records.KIND_LOG, raw, doc=doc, db=DB, key=key)
    if type(row) is not list:
        raise records.corrupt(f"expected a log envelope (an array), found {type(row).__name__}",
                              doc, DB, key)
    for pos, (name, types) in enumerate((("seq", int), ("time", int), ("kind", str))):
        if len(row) <= pos:
            raise records.corrupt(f"missing field {name!r}", doc, DB, key)
        if type(row[pos]) is not types:
            raise records.corrupt(f"field {name!r} has type {type(row[pos]).__name__}",
                                  doc, DB, key)
    if not 8 <= len(row) <= 9:
        raise records.corrupt(f"a log envelope has 8 or 9 fields, this one {len(row)}",
                              doc, DB, key)
    if len(row) == 9 and type(row[8]) is not dict:
        raise records.corrupt(f"extra fields are a map, found {type(row[8]).__name__}",
                              doc, DB, key)
    if row[0] != keys.key_seq(key):
        raise records.corrupt(f"envelope says seq {row[0]} but is stored under seq "
                              f"{keys.key_seq(key)}", doc, DB, key)
    return _entry(row)


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
_MAGIC, _VERSION, _KIND = records.MAGIC, records.RECORD_VERSION, records.KIND_LOG
_header = records._unpack_from
_header_pack = records._pack
_crc32 = records._crc32
_loads = records._loads
_dumps = records._dumps


def _quick(raw, seq: int):
    """The entry of a well-formed log record, or None (then `decode` checks
    it the long way and says what is wrong): replay reads every entry, so
    the usual record takes one header check, one CRC and one cbor2 call."""
    magic, version, kind, crc = _header(raw)
    if kind != _KIND or magic != _MAGIC or version != _VERSION:
        return None
    body = raw[_HEAD:]
    if _crc32(body) != crc:
        return None
    try:
        row = _loads(body)
        if (type(row) is not list or type(row[0]) is not int or row[0] != seq
                or type(row[1]) is not int
                or type(row[2]) is not str or not 8 <= len(row) <= 9
                or (len(row) == 9 and type(row[8]) is not dict)):
            return None
    except Exception:
        return None
    return _entry(row)


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
