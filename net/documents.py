"""Where a server's documents live between inputs: the backends the one
runtime host (runtime/host.py `RuntimeHost`, driven by net/shard.py) opens documents
from.

Both give the same document interface (runtime/contracts.py
`HostedDocument`; spec/store.md 11, the durable API): `submit(op, now)`
returns a future of the input's frames, plus `next_due()`, `view(who)`,
`asks_for(who)`, `reconnect()`, `close()` and `.living`.

- `MemoryBackend`: the runtime's (runtime/host.py), with views computed and
  Random seeded from entropy; an unloaded document is kept as its snapshot
  on a `Shelf` (in the router's process), so it survives sleep but not a
  restart. Futures are resolved before `submit` returns.
- `DurableBackend`: `durable.document.DurableDocument` on the LMDB store; a
  future resolves only once the input is durable (the output gate).

Inputs are the runtime's (`{"op": "send", "who": who, ...}`, runtime/contracts.py
`Input` without its time, which `submit` is given apart); a scripted
session's `as` for `who` is read too (`as_input`).
"""
from __future__ import annotations

import threading
from typing import Callable

from ..runtime import host as _host
from ..runtime.engine import fresh_seed
from ..runtime.host import MemoryDocument, NotFound, Resolved, Shelf
from ..views.viewers import Viewers


def durable_available() -> bool:
    try:
        from ..durable import document  # noqa: F401
    except ImportError:
        return False
    return True


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


class MemoryBackend(_host.MemoryBackend):
    """A server's documents in memory: views computed, and Random seeded from
    entropy, not from the key every player knows (spec/snapshot.md 4).
    `shelf` is a `Shelf`, or a worker's proxy of the router process's one."""

    def __init__(self, module, shelf):
        super().__init__(module, viewers=Viewers, shelf=shelf, seeds=fresh_seed)


class DurableBackend:
    """Documents on the LMDB store, through durable/document.py
    (contracts.Backend). A server's own: Random seeded from entropy (`seeds`),
    views computed; a scripted session passes `seeds=None` (the key-derived
    seed, deterministic), its `viewers`, and the `runtime_key` its document
    knows itself by when that is not the store key."""

    name = "durable"
    callbacks = True  # submit(op, now, done=) answers by callback (net/shard.py)

    def __init__(self, module, store, *, viewers=Viewers, seeds: Callable[[], str] | None = fresh_seed,
                 runtime_key: str | None = None):
        from ..durable.document import DurableDocument

        self.module = module
        self.store = store
        self.viewers = viewers
        self.seeds = seeds
        self.runtime_key = runtime_key
        self._cls = DurableDocument
        # Documents written by this module reopen without reading it back;
        # older documents find their own module in the store.
        self._modules = {module.module_id(): module}
        self.refused: dict[str, list[str]] = {}  # key -> why it stays on its code (open)
        self.canary = None  # (module, prefix, percent): the documents a canary deploy moves

    def exists(self, key: str) -> bool:
        return self.store.last_seq(key) > 0

    def create(self, key: str, who: str, arg, now: int, sender=None):
        seed = self.seeds() if self.seeds is not None else None
        return self._cls.create(self.store, key, self.module, who, arg, now, viewers=self.viewers,
                                runtime_key=self.runtime_key, seed=seed, sender=sender)

    def open(self, key: str):
        """The document, moved to this backend's module when it runs older
        code (spec/runtime.md 9): now, or once its suspended block finishes;
        one the new code cannot take stays on its own code (`refused` says why)."""
        if not self.exists(key):
            raise NotFound(key)
        doc = self._cls.open(self.store, key, modules=self._modules, viewers=self.viewers)
        target = self.module_for(key)
        if doc.module.module_id() != target.module_id():
            from ..runtime.upgrade import UpgradeRefused
            try:
                doc.upgrade(target).result()
                self.refused.pop(key, None)
            except UpgradeRefused as e:
                self.refused[key] = e.reasons
        return doc

    def module_for(self, key: str):
        """The code document `key` runs here: a canary's, when it is one of it."""
        from ..runtime.upgrade import in_canary

        if self.canary is not None and in_canary(key, self.canary[1], self.canary[2]):
            return self.canary[0]
        return self.module

    def deploy(self, module, canary=None) -> None:
        """New code: documents made from now on run it; sleeping ones move when
        they wake. With `canary` (prefix, percent) only those documents do."""
        self._modules[module.module_id()] = module
        if canary is not None:
            self.canary = (module, canary[0], canary[1])
            return
        self.canary = None
        self.module = module

    def checkpoint(self, doc) -> None:
        pass  # every input is durable before its frames go out

    def remove(self, key: str) -> None:
        # Queued behind the destroying input's own write; waited for so that a
        # request right after it finds no document rather than a dead one.
        self.store.delete(key).result()


__all__ = ["DurableBackend", "Later", "MemoryBackend", "MemoryDocument", "NotFound", "Resolved", "Shelf",
           "durable_available"]
