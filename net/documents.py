"""Where a host's documents live between inputs: the backends a worker opens
documents from.

Both give the same document interface (spec/store.md 11, the durable API):
`submit(op, now)` returns a concurrent future of the input's frames, plus
`next_due()`, `view(who)`, `asks_for(who)`, `close()` and `.living`.

- `MemoryBackend`: plain `runtime.living.LivingDocument`s; an unloaded document is
  kept as its snapshot on a `Shelf` (in the host process), so it survives
  sleep but not a restart. Futures are resolved before `submit` returns.
- `DurableBackend`: `durable.document.DurableDocument` on the LMDB store; a
  future resolves only once the input is durable (the output gate).

Inputs are the scripted-session shapes (`{"op": "send", "as": who, ...}`).
"""
from __future__ import annotations

import concurrent.futures as cf
import threading


class NotFound(Exception):
    """The document does not exist (never created, or deleted)."""


def durable_available() -> bool:
    try:
        from ..durable import document  # noqa: F401
    except ImportError:
        return False
    return True


class Resolved:
    """A future that is done from the start, with a value. What a shard
    hands around for work that finished on the spot (every in-memory input):
    a concurrent.futures.Future costs a lock and a condition to make, which
    is a noticeable part of a small input's time."""

    __slots__ = ("_value",)

    def __init__(self, value):
        self._value = value

    def done(self) -> bool:
        return True

    def cancelled(self) -> bool:
        return False

    def result(self, timeout=None):
        return self._value

    def exception(self, timeout=None):
        return None

    def add_done_callback(self, fn) -> None:
        fn(self)


class Later:
    """A future set once, from any thread, that nobody blocks on: only
    `done()`, `add_done_callback` and, once done, `result()`/`exception()`.
    What a shard chains a durable input's reply through; without
    concurrent.futures' Condition it costs a small fraction to make and set."""

    __slots__ = ("_value", "_exc", "_done", "_callbacks", "_lock")

    def __init__(self):
        self._value = None
        self._exc = None
        self._done = False
        self._callbacks: list | None = []
        self._lock = threading.Lock()

    def done(self) -> bool:
        return self._done

    def cancelled(self) -> bool:
        return False

    def result(self, timeout=None):
        if not self._done:
            raise RuntimeError("Later.result() before it was set")
        if self._exc is not None:
            raise self._exc
        return self._value

    def exception(self, timeout=None):
        if not self._done:
            raise RuntimeError("Later.exception() before it was set")
        return self._exc

    def _set(self, value, exc) -> None:
        with self._lock:
            if self._done:
                return
            self._value, self._exc, self._done = value, exc, True
            callbacks, self._callbacks = self._callbacks, None
        for fn in callbacks:
            fn(self)

    def set_result(self, value) -> None:
        self._set(value, None)

    def set_exception(self, exc) -> None:
        self._set(None, exc)

    def add_done_callback(self, fn) -> None:
        with self._lock:
            if not self._done:
                self._callbacks.append(fn)
                return
        fn(self)


def _done(value) -> Resolved:
    return Resolved(value)


class Shelf:
    """Snapshots of sleeping in-memory documents, by key. Lives in the host
    process so a document may wake on any worker."""

    def __init__(self):
        self._data: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        with self._lock:
            return self._data.get(key)

    def put(self, key: str, data: bytes) -> None:
        with self._lock:
            self._data[key] = data

    def remove(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def keys(self) -> list[str]:
        with self._lock:
            return sorted(self._data)


class MemoryDocument:
    def __init__(self, living, key: str, shelf):
        self.living = living
        self.key = key
        self._shelf = shelf

    def submit(self, op: dict, now: int) -> Resolved:
        item = {k: v for k, v in op.items() if k != "as"}
        if "as" in op:
            item["who"] = op["as"]
        item["now"] = now
        return _done(self.living.submit(item))

    def next_due(self):
        return self.living.next_due()

    def view(self, who: str) -> dict:
        return self.living.view(who)

    def asks_for(self, who: str) -> list[dict]:
        return self.living.asks_for(who)

    def close(self) -> None:
        if self.living.destroyed:
            self._shelf.remove(self.key)
        else:
            self._shelf.put(self.key, self.living.snapshot())


class MemoryBackend:
    name = "memory"

    def __init__(self, module, shelf):
        self.module = module
        self.shelf = shelf

    def exists(self, key: str) -> bool:
        return self.shelf.get(key) is not None

    def create(self, key: str, who: str, arg, now: int):
        from ..runtime.document import fresh_seed
        from ..runtime.living import LivingDocument
        from ..views.viewers import Viewers

        doc = MemoryDocument(LivingDocument(self.module, key=key, viewers=Viewers), key, self.shelf)
        # Random from entropy, not from the key every player knows (spec/snapshot.md 4)
        return doc, doc.living.create(who, arg, now, seed=fresh_seed())

    def open(self, key: str) -> MemoryDocument:
        from ..runtime.living import LivingDocument
        from ..views.viewers import Viewers

        data = self.shelf.get(key)
        if data is None:
            raise NotFound(key)
        return MemoryDocument(LivingDocument.restore(self.module, data, viewers=Viewers), key, self.shelf)

    def remove(self, key: str) -> None:
        self.shelf.remove(key)


class DurableBackend:
    """Documents on the LMDB store, through durable/document.py."""

    name = "durable"
    callbacks = True  # submit(op, now, done=) answers by callback (net/shard.py)

    def __init__(self, module, store):
        from ..durable.document import DurableDocument

        self.module = module
        self.store = store
        self._cls = DurableDocument
        # Documents written by this module reopen without reading it back;
        # older documents find their own module in the store.
        self._modules = {module.module_id(): module}

    def exists(self, key: str) -> bool:
        return self.store.last_seq(key) > 0

    def create(self, key: str, who: str, arg, now: int):
        from ..runtime.document import fresh_seed

        # Random from entropy, not from the key every player knows (spec/snapshot.md 4)
        return self._cls.create(self.store, key, self.module, who, arg, now, seed=fresh_seed())

    def open(self, key: str):
        if not self.exists(key):
            raise NotFound(key)
        return self._cls.open(self.store, key, modules=self._modules)

    def remove(self, key: str) -> None:
        # Queued behind the destroying input's own write; waited for so that a
        # request right after it finds no document rather than a dead one.
        self.store.delete(key).result()


__all__ = ["DurableBackend", "Later", "MemoryBackend", "MemoryDocument", "NotFound", "Shelf",
           "durable_available"]
