"""The one runtime host (spec/runtime.md 7): what every driver of documents
does between a request and the runtime, written once.

    host = RuntimeHost(module, MemoryBackend(module, viewers=Viewers), clock=t0)
    doc, frames = host.create("g1", "alice@", None)      # @static create asked first
    frames += host.submit("g1", {"op": "connect", "as": "bob@"}).result()
    frames += host.advance("g1", t0 + 3_600_000)          # each due time in turn

A `RuntimeHost` runs documents of one module on one backend (a typed
`contracts.Backend`: `MemoryBackend` here, the durable one above the store,
net/documents.py `DurableBackend`). It

- creates documents (`create`) and invents them on connect (`invent`),
  asking the `@static` policies first through its `Gate`, one way for every
  driver: without a `create` policy nobody may create, without `invent`
  nothing is invented, and a policy that fails says no (Adama's rule,
  spec/language.md 4.23);
- owns the clock: an input without a time runs at the host's clock, and one
  with a time moves the clock forward (never back);
- applies inputs (`submit`, in the scripted-session shape) to the document
  it loads or already holds;
- lets time pass (`advance`): it wakes the document at each due time in
  turn, each at its own time, honouring the runtime's one cap on
  transitions chained at one instant (`MAX_IMMEDIATE`, runtime/living.py);
- loads, unloads, drops and recovers documents (`open`, `unload`, `drop`,
  `recover`, `checkpoint`, `remove`).

`advm run --once`, `advm run --script` (advm/session.py, in memory and on the
store), the test runner (advm/commands/runtests.py), the shard in a server's
worker (net/shard.py) and the memory shelf all drive this class; none has a
loop of its own.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Protocol

from ..vm.errors import VMError
from .contracts import Backend, Frame, HostedDocument, as_input
from .engine import Engine, TransactionError
from .living import MAX_IMMEDIATE, LivingDocument, error_frame
from .upgrade import Deferred, UpgradeRefused, blockers, compare, in_canary, upgrade


class NotFound(Exception):
    """The document does not exist (never created, deleted, or not invented)."""


class Refused(Exception):
    """The host refused a request before any document code ran: `code` is
    `already_created` or `create_refused` (making a document), `not_connected`
    or `input` (a viewer's own state, `RuntimeHost.update_viewer`;
    spec/runtime.md 7)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message

    def frame(self, who: str | None) -> dict:
        return error_frame(who, self.code, self.message)


class Gate:
    """The `@static` policies (`create`, `invent`), asked before a document
    exists. They see only `@who` and `@context`, so one uncreated document
    answers for every key; a lock keeps its one machine to one caller."""

    def __init__(self, module):
        self.module = module
        self.policies = frozenset(module.meta["static"].get("policies", {}))
        self._doc = None  # made when a policy is first asked
        self._lock = threading.Lock()

    def allows(self, policy: str, who: str, origin: str = "", ip: str = "") -> bool:
        """Whether `policy` lets `who` in: False without such a policy, and
        False when the policy fails (an abort, a runtime error)."""
        if policy not in self.policies:
            return False
        try:
            with self._lock:
                if self._doc is None:
                    self._doc = Engine(self.module, key="$static")
                return bool(self._doc.static_policy(policy, who, origin, ip))
        except (TransactionError, VMError):
            return False


# ---------------------------------------------------------------- futures


class Resolved:
    """A future that is done from the start, with a value: what a memory
    document's input returns (contracts.Outcome). A
    concurrent.futures.Future costs a lock and a condition to make, which is
    a noticeable part of a small input's time."""

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


# ---------------------------------------------------------------- the memory backend


class Shelf:
    """Snapshots of sleeping in-memory documents, by key. A server keeps one
    in its host process so a document may wake on any worker."""

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
    """A living document in memory (contracts.HostedDocument); `close()` puts
    its snapshot on the shelf, where `MemoryBackend.open` finds it."""

    __slots__ = ("living", "key", "_shelf", "target")

    def __init__(self, living: LivingDocument, key: str, shelf: Shelf):
        self.living = living
        self.key = key
        self._shelf = shelf
        self.target = None  # new code waiting for a suspended block to finish

    def submit(self, op: dict, now: int) -> Resolved:
        frames = self.living.apply(as_input(op, now))
        if self.target is not None and self.living.engine.cont is None:
            frames = frames + self.upgrade(self.target).result()
        return Resolved(frames)

    def upgrade(self, module, *, restart_blocked: bool = False) -> Resolved:
        """Move to `module` now (the viewers' frames), or once no block is
        suspended (runtime/upgrade.py; [] until then)."""
        try:
            self.living, frames = upgrade(self.living, module, viewers=self.living.viewers_factory,
                                          restart_blocked=restart_blocked)
        except Deferred:
            self.target = module
            return Resolved([])
        self.target = None
        return Resolved(frames)

    def reconnect(self) -> Resolved:
        return Resolved(self.living.reconnect())

    def next_due(self):
        return self.living.next_due()

    def view(self, who: str) -> dict:
        return self.living.view(who)

    def asks_for(self, who: str) -> list[dict]:
        return self.living.asks_for(who)

    def close(self) -> None:
        self._shelf.put(self.key, self.living.snapshot())


class MemoryBackend:
    """Documents in memory (contracts.Backend): an unloaded one is its
    snapshot on the `Shelf`, so it survives sleep but not the process.
    `viewers` is the Viewers factory the runtime is handed (the runtime
    imports no views); `seeds` makes a new document's Random seed (a server
    passes runtime.engine.fresh_seed, so nobody can predict it from the
    key; None keeps the key-derived seed, which makes tools deterministic)."""

    name = "memory"

    def __init__(self, module, *, viewers, shelf: Shelf | None = None,
                 seeds: Callable[[], str] | None = None):
        self.module = module
        self.shelf = Shelf() if shelf is None else shelf
        self.viewers = viewers
        self.seeds = seeds

    def exists(self, key: str) -> bool:
        return self.shelf.get(key) is not None

    def create(self, key: str, who: str, arg, now: int, sender=None) -> tuple[MemoryDocument, list[Frame]]:
        doc = MemoryDocument(LivingDocument(self.module, key=key, viewers=self.viewers), key, self.shelf)
        seed = self.seeds() if self.seeds is not None else None
        return doc, doc.living.create(who, arg, now, seed=seed, sender=sender)

    def open(self, key: str) -> MemoryDocument:
        data = self.shelf.get(key)
        if data is None:
            raise NotFound(key)
        return MemoryDocument(LivingDocument.restore(self.module, data, viewers=self.viewers), key, self.shelf)

    def deploy(self, module) -> None:
        """New code: every sleeping document on the shelf moves to it now
        (memory holds no old modules to wake them on); one that cannot keeps
        sleeping on its code (RuntimeHost.deploy checked the loaded ones)."""
        old, self.module = self.module, module
        for key in self.shelf.keys():
            living = LivingDocument.restore(old, self.shelf.get(key), viewers=self.viewers, load=False)
            try:
                moved, _ = upgrade(living, module, viewers=self.viewers)
            except (Deferred, UpgradeRefused):
                continue
            self.shelf.put(key, moved.snapshot())

    def checkpoint(self, doc: MemoryDocument) -> None:
        """What a crash recovers is the document as it is now."""
        doc.close()

    def remove(self, key: str) -> None:
        self.shelf.remove(key)


# ---------------------------------------------------------------- time passing


class Timed(Protocol):
    """What `RuntimeHost.pass_time` wakes: a document as a host drives it, or the
    test runner's harness (advm/commands/runtests.py)."""

    def next_due(self) -> int | None: ...

    @property
    def capped(self) -> bool: ...  # the last wake stopped at MAX_IMMEDIATE transitions at one instant

    def wake(self, at: int) -> list[Frame]: ...  # one input at `at`: run what is due then


class Steppable(Timed, Protocol):
    """What `RuntimeHost.step` runs early: the test runner's harness, whose
    `@step` runs the pending transition before it is due."""

    def wake(self, at: int, early: bool = False) -> list[Frame]: ...  # early: due or not


class _Hosted:
    """A hosted document as `Timed`: a wake is an `advance` input."""

    __slots__ = ("doc",)

    def __init__(self, doc: HostedDocument):
        self.doc = doc

    def next_due(self) -> int | None:
        return self.doc.next_due()

    @property
    def capped(self) -> bool:
        return self.doc.living.capped

    def wake(self, at: int) -> list[Frame]:
        return self.doc.submit({"op": "advance"}, at).result()


# ---------------------------------------------------------------- the host


class RuntimeHost:
    """Documents of one module on one backend (see the module's docstring).

    `docs` holds the loaded documents by key. A server's shard drives one
    host from several lanes, each document from one lane at a time: the
    gate has its own lock, and `docs` is touched one key at a time. The test
    runner, which only lets time pass on a document it holds (`pass_time`),
    has no backend."""

    def __init__(self, module, backend: Backend | None, *, clock: int = 0):
        self.module = module
        self.backend = backend
        self.gate = Gate(module)
        self.clock = clock
        self.docs: dict[str, HostedDocument] = {}

    def at(self, now: int | None = None) -> int:
        """The time of an input: `now` (which moves the host's clock forward,
        never back) or, without one, the host's clock."""
        if now is None:
            return self.clock
        if now > self.clock:
            self.clock = now
        return now

    # ------------------------------------------------------------ making documents

    def exists(self, key: str) -> bool:
        return key in self.docs or self.backend.exists(key)

    def create(self, key: str, who: str, arg: Any = None, now: int | None = None, *,
               origin: str = "", ip: str = "", sender=None) -> tuple[HostedDocument, list[Frame]]:
        """Create document `key` as `who`: Refused when it exists already
        (`already_created`, before the gate; a destroyed one does not) or
        `@static create` does not let `who` in (`create_refused`); then field
        defaults and @construct with `arg`, and the transitions that makes due
        at once. Returns the
        document and the create input's frames. When @construct failed the
        frames say why, the document made is not created
        (`doc.living.engine.created` is false, `doc.living.last_error` is the
        error) and the host keeps nothing of it."""
        at = self.at(now)
        held = self.docs.get(key)
        if held is not None and held.living.deleting:
            raise Refused("already_created", f"document {key!r} was deleted and its replicated copies are "
                                             "still being deleted: its key is free once they are")
        if held is not None and held.living.destroyed:
            # A destroyed document's key is free again (a shard removes it at
            # once; a scripted session keeps it to answer `destroyed` until now).
            self.remove(key)
        if self.exists(key):
            raise Refused("already_created", f"document {key!r} already exists")
        if not self.gate.allows("create", who, origin, ip):
            if "create" not in self.gate.policies:
                raise Refused("create_refused", "the document has no @static create policy, so nobody "
                                                f"may create it (spec/language.md 4.23); {who} was refused")
            raise Refused("create_refused", f"the @static create policy refuses {who}")
        return self._make(key, who, arg, at, sender)

    def invent(self, key: str, who: str, now: int | None = None, *, origin: str = "",
               ip: str = "") -> tuple[HostedDocument, list[Frame]]:
        """Create missing document `key` for `who`, who connects to it, when
        `@static invent` says so (spec/language.md 4.23; no argument); NotFound
        otherwise. Returns what `create` returns."""
        at = self.at(now)
        if not self.gate.allows("invent", who, origin, ip):
            raise NotFound(key)
        return self._make(key, who, None, at)

    def _make(self, key: str, who: str, arg, at: int, sender=None):
        # `sender`: [document, call] of a document creating this one (language.md 4.32)
        doc, frames = self.backend.create(key, who, arg, at, **({"sender": sender} if sender else {}))
        if doc.living.engine.created:
            self.docs[key] = doc
        return doc, frames

    # ------------------------------------------------------------ loading

    def open(self, key: str) -> HostedDocument:
        """Document `key`, loaded from the backend unless it is loaded
        (NotFound when it does not exist). Connections never survive a
        document being unloaded or its host stopping: whoever its snapshot
        still lists has gone, so @disconnected runs for each (they will
        connect again)."""
        doc = self.docs.get(key)
        if doc is not None:
            return doc
        doc = self.backend.open(key)
        self.docs[key] = doc
        for who in list(doc.living.connected):
            doc.submit({"op": "disconnect", "as": who}, doc.living.clock)
        return doc

    def loaded(self, key: str) -> HostedDocument | None:
        return self.docs.get(key)

    def refusals(self, module, canary=None) -> None:
        """Raise UpgradeRefused with every reason the plan or a loaded
        document (of the canary, if one) gives against `module` (nothing changes)."""
        reasons = list(compare(self.module, module).refused)
        for key, doc in self.docs.items():
            if canary is not None and not in_canary(key, canary[0], canary[1]):
                continue
            runs = doc.living.engine.module
            if runs.module_id() != module.module_id():
                reasons += [f"document {key!r}: {r}" for r in
                            blockers(doc.living, module, compare(runs, module))]
        if reasons:
            raise UpgradeRefused(reasons)

    def deploy(self, module, *, move: bool = True, restart_blocked: bool = False,
               canary=None) -> dict[str, tuple[str, object]]:
        """New code (spec/runtime.md 9): the plan is proved first and every
        loaded document checked; anything that blocks it raises
        UpgradeRefused naming the document, and nothing changes. Then new
        documents are made with `module`, every loaded document moves now
        (key -> ("moved", the frames its viewers are owed)) or, with a block
        suspended at an await, once that activation ends (("deferred", why));
        sleeping documents move when they wake (the backend's `deploy`).
        `move=False` switches the code and leaves each loaded document for its
        owner to move in its own input order (a server's shard: `upgrade`),
        returning key -> ("loaded", None). `canary` (prefix, percent): only
        those documents move (in_canary), new ones keep the current code;
        a backend without a canary of its own refuses it."""
        self.refusals(module, canary)
        if canary is not None:
            if not hasattr(self.backend, "module_for"):
                raise UpgradeRefused([f"a canary needs documents on the store ({self.backend.name} backend)"])
            self.backend.deploy(module, canary=canary)
        else:
            self.module = module
            self.gate = Gate(module)
            self.backend.deploy(module)
        out: dict[str, tuple[str, object]] = {}
        keys = [k for k in self.docs if canary is None or in_canary(k, canary[0], canary[1])]
        if not move:
            return {key: ("loaded", None) for key in keys}
        for key in keys:
            doc = self.docs[key]
            frames = doc.upgrade(module, restart_blocked=restart_blocked).result()
            moved = doc.living.engine.module.module_id() == module.module_id()
            out[key] = ("moved", frames) if moved else ("deferred", "a block is suspended at an await")
        return out

    def recover(self, key: str) -> HostedDocument | None:
        """Document `key` as a crash leaves it: the loaded copy is thrown
        away unsaved and the document loaded again from the backend (what
        `checkpoint` last saved, or everything durable). Its viewers stay
        listed as connected; `reconnect` gives them their views back (a
        scripted session's restart, spec/sessions.md 5). None when there is
        no such document."""
        self.docs.pop(key, None)
        if not self.backend.exists(key):
            return None
        doc = self.docs[key] = self.backend.open(key)
        return doc

    def reconnect(self, key: str) -> list[Frame]:
        """Every viewer document `key` lists as connected gets its connection,
        whole view and open asks back, without @connected."""
        return self.docs[key].reconnect().result()

    def checkpoint(self, key: str) -> None:
        """Make document `key` as it is now what `recover` finds (the durable
        backend has nothing to do: every input is durable)."""
        doc = self.docs.get(key)
        if doc is not None:
            self.backend.checkpoint(doc)

    def unload(self, key: str) -> bool:
        """Let document `key` sleep: saved (its snapshot on the shelf, or a
        final snapshot in the store) and forgotten. Whether it was loaded."""
        doc = self.docs.pop(key, None)
        if doc is None:
            return False
        doc.close()
        return True

    def drop(self, key: str) -> bool:
        """Forget document `key` after a failure; whether it was loaded. A
        durable document is not saved: what it holds may include the failed
        input, and it comes back from the store as it was before it. An
        in-memory document has nothing else to come back from: it is saved
        as it is (the runtime rolled the failed transaction back)."""
        doc = self.docs.pop(key, None)
        if doc is None:
            return False
        if self.backend.name == "memory":
            try:
                doc.close()
            except Exception:
                pass  # already failing
        return True

    def remove(self, key: str) -> bool:
        """Forget a destroyed document and remove it from the backend;
        whether it was loaded."""
        loaded = self.docs.pop(key, None) is not None
        self.backend.remove(key)
        return loaded

    # ------------------------------------------------------------ viewers

    def update_viewer(self, key: str, who: str, state) -> list[Frame]:
        """A connected viewer's own state (its `view` fields, @viewer;
        spec/language.md 4.9.1) for loaded document `key`: not an input of the
        document (nothing runs in it, nothing is logged), only of its view:
        the viewer's bubbles are computed again and its patch comes back as
        frames. The one path for every driver (a scripted session's `update`,
        a shard's `connection/update`). Refused `not_connected` when `who` is
        not connected to it, `input` when the state does not fit the fields."""
        doc = self.docs.get(key)
        if doc is None or who not in doc.living.connected:
            raise Refused("not_connected", f"{who} is not connected")
        try:
            return doc.living.viewers.update(who, state)
        except ValueError as e:
            raise Refused("input", f"viewer state: {e}") from None

    # ------------------------------------------------------------ inputs and time

    def submit(self, key: str, op: dict, now: int | None = None, done=None):
        """Apply one input (scripted shape: {"op": "send", "as": who, ...}) to
        document `key`, loading it if needed, at `now` or the host's clock.
        Returns the document's future of the frames (contracts.Outcome); with
        `done`, a durable document calls done(frames, error) instead."""
        return self.submit_to(self.open(key), op, now, done)

    def submit_to(self, doc: HostedDocument, op: dict, now: int | None = None, done=None):
        """`submit` to a document the caller holds (from `open`)."""
        at = self.at(now)
        if done is None:
            return doc.submit(op, at)
        return doc.submit(op, at, done=done)

    def advance(self, key: str, until: int) -> list[Frame]:
        """Let time pass on document `key` to `until`, as a host that stays
        up does (`pass_time`); the host's clock ends at `until`."""
        return self.pass_time(_Hosted(self.open(key)), until)

    def step(self, doc: Steppable) -> list[Frame]:
        """Run `doc`'s pending transition now, at the host's clock, whether
        or not it is due: the test harness's `@step` (spec/language.md 4.24),
        one wake like any other the host makes (the clock does not move)."""
        return doc.wake(self.clock, early=True)

    def pass_time(self, doc: Timed, until: int) -> list[Frame]:
        """Wake `doc` at each due time before `until` in turn (every daily
        slot of a three-day advance runs, each at its own time), then at
        `until` unless it just woke then. A document that stopped at the cap
        (MAX_IMMEDIATE transitions in a row at one instant) is not woken again
        at that instant: the wake at `until` is its next input."""
        frames: list[Frame] = []
        woke = None
        while not doc.capped:
            due = doc.next_due()
            if due is None or due > until:
                break
            self.at(due)  # each at its own time (never before the clock)
            woke = self.clock
            frames += doc.wake(woke)
        self.at(until)
        if woke != until:
            frames += doc.wake(self.clock)
        return frames


__all__ = ["Gate", "MAX_IMMEDIATE", "MemoryBackend", "MemoryDocument", "NotFound", "Refused", "Resolved",
           "RuntimeHost", "Shelf", "Steppable", "Timed"]
