"""THE key layout of the store: every byte of every key is decided here.

One LMDB environment holds five named databases. Integers in keys are
big-endian and fixed width so LMDB's bytewise order is numeric order; a
document key is its UTF-8 bytes followed by a NUL separator, which the key
itself may not contain, so one document's records are one contiguous range
and documents sort like Python strings (UTF-8 preserves code point order).

    database    key                                   value (see records.py)
    log         doc 00 seq:u64                        log envelope
    snapshots   doc 00 seq:u64                        snapshot (latest = highest seq)
    timers      "D" due:u64 doc                       empty (the wake index)
    timers      "W" doc                               timer record {due}
    modules     sha256(code) (32 bytes)               module record
    meta        ascii name                            meta record

A document of a space other than the default one (spec/store.md 2.1) is
named in the store by `00 space 00 key` where the default space's is `key`:
the store's document string is "\x00space\x00key" (space_doc), so every
function here and in the store takes it unchanged, no default key can start
with NUL, and a space's documents are one contiguous range.

spec/store.md explains the same table for readers who do not read Python.
"""
from __future__ import annotations

from functools import lru_cache

from .errors import InvalidDocKey

DB_LOG = b"log"
DB_SNAPSHOTS = b"snapshots"
DB_TIMERS = b"timers"
DB_MODULES = b"modules"
DB_META = b"meta"
ALL_DBS = (DB_SNAPSHOTS, DB_LOG, DB_TIMERS, DB_MODULES, DB_META)

SEP = b"\x00"
# LMDB's default maximum key is 511 bytes; the longest key built from a
# document key adds 9 bytes, and a space's prefix 2 + MAX_SPACE (below).
MAX_DOC_BYTES = 255
SEQ_BYTES = 8
SEQ_MAX = (1 << 64) - 1
TIME_MAX = (1 << 64) - 1
HASH_BYTES = 32

TIMER_DUE = b"D"
TIMER_OF = b"W"

META_FORMAT = b"format"

DEFAULT_SPACE = "default"
MAX_SPACE = 32  # characters of a space name: [a-z0-9][a-z0-9_-]*
_SPACE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")


def space_problem(space) -> str | None:
    """Why `space` is not a space name, or None."""
    if not isinstance(space, str) or not 1 <= len(space) <= MAX_SPACE:
        return f"a space name is 1 to {MAX_SPACE} characters"
    if not set(space) <= _SPACE_CHARS or not space[0].isalnum():
        return "a space name is lower-case letters, digits, '_' and '-', starting with a letter or digit"
    return None


def space_doc(space: str, key: str) -> str:
    """The store's name of document `key` of `space` (the default space's is the key itself)."""
    if space == DEFAULT_SPACE:
        return key
    problem = space_problem(space)
    if problem is not None:
        raise InvalidDocKey(f"space {space!r}: {problem}")
    return f"\x00{space}\x00{key}"


def split_space_doc(doc: str) -> tuple[str, str]:
    """(space, key) of a store document name made by space_doc."""
    if doc.startswith("\x00"):
        space, _, key = doc[1:].partition("\x00")
        return space, key
    return DEFAULT_SPACE, doc


def space_of(doc: str) -> str:
    return split_space_doc(doc)[0]


@lru_cache(maxsize=4096)
def doc_bytes(doc: str) -> bytes:
    """The validated UTF-8 form of a document key."""
    if not isinstance(doc, str):
        raise InvalidDocKey(f"document key must be a string, not {type(doc).__name__}")
    if not doc:
        raise InvalidDocKey("document key is empty")
    if "\x00" in doc:
        space, key = split_space_doc(doc)
        if (not doc.startswith("\x00") or doc.count("\x00") != 2 or space_problem(space)
                or not key):
            raise InvalidDocKey(f"document key {doc!r} contains NUL", doc=doc)
    try:
        raw = doc.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidDocKey(f"document key {doc!r} is not valid Unicode: {exc.reason}",
                            doc=doc) from None
    if len(raw) > MAX_DOC_BYTES + (MAX_SPACE + 2 if doc.startswith("\x00") else 0):
        raise InvalidDocKey(
            f"document key {doc[:40]!r}... is {len(raw)} bytes in UTF-8; "
            f"the limit is {MAX_DOC_BYTES}",
            doc=doc)
    return raw


def doc_prefix(doc: str) -> bytes:
    """Every log or snapshot key of `doc` starts with these bytes, and no other key does."""
    return doc_bytes(doc) + SEP


def seq_bytes(seq: int) -> bytes:
    if not 0 <= seq <= SEQ_MAX:
        raise ValueError(f"sequence number {seq} is outside 0..2**64-1")
    return seq.to_bytes(SEQ_BYTES, "big")


def seq_key(prefix: bytes, seq: int) -> bytes:
    """Log or snapshot key from a prefix made by doc_prefix()."""
    return prefix + seq_bytes(seq)


def log_key(doc: str, seq: int) -> bytes:
    return seq_key(doc_prefix(doc), seq)


snapshot_key = log_key


def range_end(prefix: bytes) -> bytes:
    """A key above every key of the document with this prefix and below the next document's."""
    return prefix[:-1] + b"\x01"


def split_seq_key(key: bytes) -> tuple[str, int]:
    """(document, seq) from a log or snapshot key."""
    key = bytes(key)
    if len(key) < SEQ_BYTES + 2 or key[-SEQ_BYTES - 1] != 0:
        raise ValueError(f"not a document/sequence key: {key.hex()}")
    return key[:-SEQ_BYTES - 1].decode("utf-8"), int.from_bytes(key[-SEQ_BYTES:], "big")


def key_seq(key) -> int:
    """The sequence number at the end of a log or snapshot key."""
    return int.from_bytes(key[-SEQ_BYTES:], "big")


def doc_of_prefixed(key) -> bytes:
    """The document bytes of a log or snapshot key (no decoding)."""
    return bytes(key[:-SEQ_BYTES - 1])


def timer_due_key(due: int, doc: str) -> bytes:
    if not 0 <= due <= TIME_MAX:
        raise ValueError(f"timer due time {due} is outside 0..2**64-1")
    return TIMER_DUE + due.to_bytes(8, "big") + doc_bytes(doc)


def timer_of_key(doc: str) -> bytes:
    return TIMER_OF + doc_bytes(doc)


def split_timer_due_key(key) -> tuple[int, str]:
    key = bytes(key)
    if len(key) < 10 or key[:1] != TIMER_DUE:
        raise ValueError(f"not a timer index key: {key.hex()}")
    return int.from_bytes(key[1:9], "big"), key[9:].decode("utf-8")


def module_key(digest: bytes) -> bytes:
    if len(digest) != HASH_BYTES:
        raise ValueError(f"a module key is a {HASH_BYTES}-byte sha256 digest, "
                         f"got {len(digest)} bytes")
    return bytes(digest)
