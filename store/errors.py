"""The StoreError family: what the store raises instead of returning a wrong document.

Every error carries the document key it concerns (None when the problem is the
store as a whole, such as a refused format version) and, where one record is at
fault, the database and the raw key, so a message can be acted on: which
document, which record, what was wrong with it.
"""
from __future__ import annotations


class StoreError(Exception):
    """Base class: something about the durable store prevents the operation."""

    def __init__(self, message: str, *, doc: str | None = None,
                 db: str | None = None, key: bytes | None = None):
        super().__init__(message)
        self.doc = doc
        self.db = db
        self.key = key


class CorruptRecord(StoreError):
    """A stored value failed its checks: bad header, CRC, CBOR, hash or shape,
    or a document's log has a hole. The document cannot be loaded as it is."""


class MapFull(StoreError):
    """The LMDB map reached its size cap; the write was not made."""


class IncompatibleStore(StoreError):
    """The directory holds a store this version of advm does not read."""


class DamagedStore(IncompatibleStore):
    """The store's files fail the checks made before LMDB maps them
    (store/env.py check_files): truncated, or meta pages that are not LMDB's.
    Mapping such a file would crash the process (SIGBUS past its end)."""


class SequenceConflict(StoreError):
    """A write does not continue the document's log where it ends: another
    writer got there first, or the caller lost track of its sequence number."""


class LeaseLost(SequenceConflict):
    """A PostgreSQL store's write for a document whose lease this host does
    not hold at the epoch it loaded it under: another host took the document
    (a fencing token, spec/store.md 20.4), or holds it now."""


class StoreClosed(StoreError):
    """The store was closed (or failed) before the write was accepted."""


class InvalidDocKey(StoreError, ValueError):
    """A document key that cannot be stored (empty, too long, contains NUL)."""


def describe_key(key: bytes | None) -> str:
    """A raw key as hex, shortened, for messages."""
    if key is None:
        return "-"
    text = bytes(key).hex()
    return text if len(text) <= 80 else text[:77] + "..."
