"""Value format shared by every record: a 7-byte header, then one CBOR item.

    offset  size  field
    0       1     magic 0xAD
    1       1     record format version (RECORD_VERSION)
    2       1     kind: b"L" log, b"S" snapshot, b"T" timer, b"M" module, b"m" meta
    3       4     CRC-32 of the CBOR body, big-endian

The kind byte catches a value read from the wrong database; the CRC catches
flipped or truncated bytes that would still decode as CBOR. LMDB checks
neither, and a store that returned a plausible-looking but wrong record would
silently load a wrong document.
"""
from __future__ import annotations

import struct
import zlib

import cbor2

from .errors import CorruptRecord, describe_key

MAGIC = 0xAD
RECORD_VERSION = 1
HEADER = struct.Struct(">BBcI")
HEADER_SIZE = HEADER.size

KIND_LOG = b"L"
KIND_SNAPSHOT = b"S"
KIND_TIMER = b"T"
KIND_MODULE = b"M"
KIND_META = b"m"

_crc32 = zlib.crc32
_dumps = cbor2.dumps
_loads = cbor2.loads
_pack = HEADER.pack
_unpack_from = HEADER.unpack_from


def pack(kind: bytes, value) -> bytes:
    body = _dumps(value)
    return _pack(MAGIC, RECORD_VERSION, kind, _crc32(body)) + body


def unpack(kind: bytes, raw, *, doc: str | None, db: str, key: bytes):
    """Decode a record, or raise CorruptRecord naming the document and key."""
    if raw is None or len(raw) < HEADER_SIZE:
        size = 0 if raw is None else len(raw)
        raise corrupt(f"record is {size} bytes, shorter than its header", doc, db, key)
    magic, version, got_kind, crc = _unpack_from(raw)
    if magic != MAGIC:
        raise corrupt(f"bad magic byte 0x{magic:02x}", doc, db, key)
    if version != RECORD_VERSION:
        raise corrupt(f"record format version {version}, expected {RECORD_VERSION}", doc, db, key)
    if got_kind != kind:
        raise corrupt(f"record kind {got_kind!r} where {kind!r} belongs", doc, db, key)
    body = raw[HEADER_SIZE:]
    if _crc32(body) != crc:
        raise corrupt("CRC mismatch (the bytes changed after they were written)", doc, db, key)
    try:
        return _loads(body)
    except Exception as exc:  # cbor2 raises several types for bad input
        raise corrupt(f"undecodable CBOR ({exc})", doc, db, key) from None


def corrupt(reason: str, doc: str | None, db: str, key: bytes) -> CorruptRecord:
    who = f"document {doc!r}" if doc is not None else "the store"
    return CorruptRecord(
        f"corrupt {db} record for {who} (key {describe_key(key)}): {reason}",
        doc=doc, db=db, key=bytes(key) if key is not None else None)


def field(record, name: str, types, *, doc: str | None, db: str, key: bytes):
    """Fetch a required field of a decoded map record, checking its type."""
    if not isinstance(record, dict):
        raise corrupt(f"expected a map, found {type(record).__name__}", doc, db, key)
    try:
        value = record[name]
    except KeyError:
        raise corrupt(f"missing field {name!r}", doc, db, key) from None
    if not isinstance(value, types) or (isinstance(value, bool) and bool not in _as_tuple(types)):
        raise corrupt(f"field {name!r} has type {type(value).__name__}", doc, db, key)
    return value


def _as_tuple(types):
    return types if isinstance(types, tuple) else (types,)
