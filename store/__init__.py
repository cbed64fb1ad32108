"""advm.store: the durable store on LMDB or PostgreSQL (input log, snapshots, timers, code
modules, group commit). spec/store.md part one describes the layout and
guarantees. It keeps bytes under keys and knows no document: durable
documents, replay and inspection are built on it in advm.durable (part two)."""
from .commit import KEEP
from .env import DEFAULT_DIR, STORE_FORMAT, Durability
from .errors import (CorruptRecord, DamagedStore, IncompatibleStore, InvalidDocKey, LeaseLost,
                     MapFull, SequenceConflict, StoreClosed, StoreError)
from .log import Entry
from .retention import KEEP_ALL, Retention
from .snapshots import Snapshot, content_hash
from .store import Recovery, Store


def is_store_url(path) -> bool:
    """True for a PostgreSQL store's URL (postgresql://...), False for a directory."""
    return isinstance(path, str) and path.startswith(("postgresql://", "postgres://"))


def open_store(path=DEFAULT_DIR, **options):
    """Open (creating if needed) the store in `path`: a directory (LMDB, see
    Store for options) or a PostgreSQL URL (store/postgres.py PgStore, which
    also takes `owner=` and `lease=`)."""
    if is_store_url(path):
        try:
            from .postgres import PgStore
        except ImportError as e:
            raise StoreError(f"a PostgreSQL store needs psycopg 3 and psycopg_pool "
                             f"(pip install 'advm[postgresql]'): {e}") from None
        return PgStore(path, **options)
    return Store(path, **options)


__all__ = [
    "KEEP", "KEEP_ALL", "DEFAULT_DIR", "STORE_FORMAT", "CorruptRecord", "DamagedStore",
    "Durability", "Entry",
    "IncompatibleStore", "InvalidDocKey", "LeaseLost", "MapFull", "Recovery", "Retention",
    "SequenceConflict", "Snapshot", "Store", "StoreClosed", "StoreError", "content_hash",
    "is_store_url", "open_store",
]
