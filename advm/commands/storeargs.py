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
    p.add_argument("--store", metavar="DIR", default=DEFAULT_DIR,
                   help=f"the store directory (default {DEFAULT_DIR})")
    p.add_argument("--doc", metavar="KEY", default=DEFAULT_DOC,
                   help=f"the document's key (default {DEFAULT_DOC!r})")


def open_store(path: str, *, readonly: bool = True):
    """A Store, or a UsageError naming the directory (exit 2)."""
    from ..store import IncompatibleStore, Store, StoreError

    try:
        return Store(path, readonly=readonly)
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


__all__ = ["DEFAULT_DOC", "add_store_arguments", "open_store", "require_document", "store_failure"]
