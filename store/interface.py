"""The store's interface, declared: what durable documents, replay and the
host's workers may call on a store (spec/store.md).

`store.Store` is the LMDB store. A worker process reaches the host's store
through a proxy (net/worker.py `RemoteStore`) that forwards each call across
a socket; `WRITES` and `CALLBACK_WRITES` say which calls return a future of a
durable write (and which of those take `callback=` instead), so the proxy
has one method per call declared here and forwards each as declared
(net/messages.py `store_calls`, spec/protocol.md 8.13). tests/runtime/test_contracts.py
checks that `Store` has exactly these methods (spec/store.md 11.5).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, Protocol, runtime_checkable

from .log import Entry
from .snapshots import Snapshot

# Calls that return a future, resolved once the write is durable; every other
# call is a read that answers at once.
WRITES = frozenset({"commit", "append", "append_envelope", "schedule", "delete", "trim", "put_module",
                    "barrier"})
# Of the writes, those that take `callback=` (callback(result, error) on the
# committer thread) instead of returning a future: a durable input's append.
CALLBACK_WRITES = frozenset({"append_envelope"})
READS = frozenset({"load", "log", "entries", "last_seq", "first_seq", "snapshot", "snapshot_seqs", "documents",
                   "timer", "due", "next_due", "module", "module_hashes", "info"})


@runtime_checkable
class DocumentStore(Protocol):
    """Documents' logs, snapshots, wake times and modules (spec/store.md
    sections 2-9). Futures are concurrent.futures.Futures."""

    path: Any

    # writes (WRITES)
    def commit(self, doc: str, entries: Iterable[Entry] = (), *, snapshot: Snapshot | None = None,
               timer: Any = ..., history: int | None = None, value: Any = ..., fail: Any = None) -> Any: ...

    def append_envelope(self, doc: str, env: dict | bytes, *, seq: int | None = None, timer: Any = ...,
                        value: Any = ..., fail: Any = None,
                        callback: Callable[[Any, BaseException | None], None] | None = None) -> Any: ...

    def append(self, doc: str, entry: Entry) -> Any: ...

    def schedule(self, doc: str, due: int | None) -> Any: ...

    def delete(self, doc: str) -> Any: ...

    def trim(self, doc: str, policy: Any = None, *, history: int | None = None) -> Any: ...

    def put_module(self, code: bytes, info: dict | None = None) -> Any: ...

    def barrier(self, value: Any = None) -> Any: ...

    # reads (READS)
    def load(self, doc: str) -> Any: ...  # a Recovery: (snapshot, its seq, the entries after it)

    def log(self, doc: str, *, after: int = 0, until: int | None = None, limit: int | None = None) -> list[Entry]: ...

    def entries(self, doc: str, *, after: int = 0, until: int | None = None, chunk: int = 1024) -> Iterator[Entry]: ...

    def last_seq(self, doc: str) -> int: ...

    def first_seq(self, doc: str) -> int: ...

    def snapshot(self, doc: str, seq: int | None = None, *, verify: bool = True) -> Snapshot | None: ...

    def snapshot_seqs(self, doc: str) -> list[int]: ...

    def documents(self) -> list[str]: ...

    def timer(self, doc: str) -> int | None: ...

    def due(self, now: int, limit: int | None = None) -> list[tuple[int, str]]: ...

    def next_due(self) -> tuple[int, str] | None: ...

    def module(self, digest: bytes) -> tuple[bytes, dict] | None: ...

    def module_hashes(self) -> list[bytes]: ...

    def info(self) -> dict: ...


__all__ = ["CALLBACK_WRITES", "DocumentStore", "READS", "WRITES"]
