"""What the store-reading commands (`replay`, `snapshot`) share: the
`--store`/`--doc` options and opening a store for reading with errors that
say what to do."""
from __future__ import annotations

import argparse

from .base import Failure, UsageError

# durable.document.DEFAULT_DOC, spelled out so that building the parser does not
# import the store (LMDB, asyncio) for every advm command.
DEFAULT_DOC = "main"


DEFAULT_DIR = ".advm"  # store.DEFAULT_DIR, for the same reason


def add_store_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", metavar="DIR|URL", default=DEFAULT_DIR,
                   help=f"the store: a directory (LMDB, default {DEFAULT_DIR}) or a PostgreSQL "
                        "URL (postgresql://...)")
    p.add_argument("--doc", metavar="KEY", default=DEFAULT_DOC,
                   help=f"the document's key (default {DEFAULT_DOC!r})")


def is_url(path) -> bool:
    """A PostgreSQL store's URL rather than a directory (store.is_store_url,
    spelled out so that parsing arguments does not import the store)."""
    return isinstance(path, str) and path.startswith(("postgresql://", "postgres://"))


def host_options(path) -> dict:
    """What a serving host opens its store with: on PostgreSQL, an owner name
    unique to this process, so that it takes each document's lease before
    loading it (spec/store.md 20.4)."""
    if not is_url(path):
        return {}
    import os
    import secrets
    import socket

    return {"owner": f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"}


def open_store(path: str, *, readonly: bool = True):
    """A store (LMDB directory or PostgreSQL URL), or a UsageError naming it (exit 2)."""
    from ..store import IncompatibleStore, StoreError
    from ..store import open_store as open_any

    try:
        return open_any(path, readonly=readonly)
    except IncompatibleStore as e:
        raise store_failure(e) from None
    except StoreError as e:
        raise UsageError(str(e)) from None


def require_document(store, doc: str) -> None:
    """A UsageError listing the store's documents when `doc` is not one."""
    if store.last_seq(doc) or store.snapshot_seqs(doc):
        return
    docs = store.documents()
    listed = ", ".join(repr(d) for d in docs[:10]) + (" ..." if len(docs) > 10 else "")
    hint = f"; it holds {listed}" if docs else "; it holds no documents"
    raise UsageError(f"no document {doc!r} in the store at {store.path}{hint} (choose with --doc)")


def store_failure(e: Exception) -> Failure:
    """A damaged or incompatible store: exit 1 with the store's own message,
    which names the document (on stdout as JSON with --json)."""
    data = {"ok": False, "error": {"kind": type(e).__name__, "message": str(e),
                                   "doc": getattr(e, "doc", None)}}
    return Failure(f"advm: error: {e}", data)


__all__ = ["DEFAULT_DOC", "add_store_arguments", "host_options", "is_url", "open_store", "require_document", "store_failure"]
