"""advm.store: the durable store on LMDB (input log, snapshots, timers, code
modules, group commit). spec/store.md part one describes the layout and
guarantees. It keeps bytes under keys and knows no document: durable
documents, replay and inspection are built on it in advm.durable (part two)."""
from .commit import KEEP
from .env import DEFAULT_DIR, STORE_FORMAT, Durability
from .errors import (CorruptRecord, DamagedStore, IncompatibleStore, InvalidDocKey, MapFull,
                     SequenceConflict, StoreClosed, StoreError)
from .log import Entry
from .retention import KEEP_ALL, Retention
from .snapshots import Snapshot, content_hash
from .store import Recovery, Store


def open_store(path=DEFAULT_DIR, **options) -> Store:
    """Open (creating if needed) the store in `path`; see Store for options."""
    return Store(path, **options)


__all__ = [
    "KEEP", "KEEP_ALL", "DEFAULT_DIR", "STORE_FORMAT", "CorruptRecord", "DamagedStore",
    "Durability", "Entry",
    "IncompatibleStore", "InvalidDocKey", "MapFull", "Recovery", "Retention",
    "SequenceConflict", "Snapshot", "Store", "StoreClosed", "StoreError", "content_hash",
    "open_store",
]
