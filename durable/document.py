"""DurableDocument: a living document whose every input is logged in the store
before anyone sees its result (contract: spec/store.md 11.4; guarantees:
spec/store.md sections 11-13).

    doc, frames = DurableDocument.create(store, "g1", module, "alice@", None, now)
    frames = doc.submit({"op": "send", "as": "bob@", "channel": "say",
                         "message": {"text": "hi"}}, now).result()
    doc.close()
    doc = DurableDocument.open(store, "g1")        # snapshot + log tail

An input runs at once on the in-memory runtime (runtime/living.py); its log entry
goes to the store's group committer, and the future `submit` returns gets the
input's frames only when that commit is durable (the output gate). Inputs may
be pipelined: the next one runs while the previous commit is in flight, and
commits land in submission order. If a commit fails, the runtime is ahead of
the disk, so the document refuses every later input with that error; the host
drops it and opens it again from what is durable.

Every `snapshot_every` logged inputs (the module's `@static snapshot_every`,
default DEFAULT_SNAPSHOT_EVERY) the entry's commit carries a snapshot (and
the module's `@static maximum_history`, for retention). Recovery is the
newest snapshot plus the log after it.
"""
from __future__ import annotations

import asyncio
import concurrent.futures as cf
import hashlib
import io

import cbor2

from ..runtime.contracts import as_input
from ..runtime.engine import gc_paused
from ..runtime.living import SNAPSHOT_VERSION, LivingDocument
from ..runtime.upgrade import Deferred, UpgradeRefused, compare, upgrade
from ..store.commit import KEEP
from ..store.errors import CorruptRecord, IncompatibleStore, StoreError
from ..store.log import Entry
from ..store.snapshots import Snapshot
from ..vm.errors import ModuleFormatError, SnapshotError
from ..vm.module import Module
from . import inputs

DEFAULT_SNAPSHOT_EVERY = 100
DEFAULT_DOC = "main"  # the document tools (advm run --script, replay, snapshot) use by default
_UNKNOWN = object()  # the stored wake time, before this process wrote one
_SEQ = object()  # a commit's future gives the document's last seq


def snapshot_every(module) -> int:
    value = module.meta.get("static", {}).get("properties", {}).get("snapshot_every")
    return value if type(value) is int and value >= 1 else DEFAULT_SNAPSHOT_EVERY


def maximum_history(module) -> int | None:
    """The module's `@static maximum_history` (inputs kept before the newest
    snapshot, spec/store.md 7), or None: the store's retention policy decides."""
    value = module.meta.get("static", {}).get("properties", {}).get("maximum_history")
    return value if type(value) is int and value >= 1 else None


def module_digest(module) -> tuple[bytes, bytes]:
    """(code bytes, sha256) of a module; cached on the module, which is
    immutable once built, because encoding it is not free."""
    cached = getattr(module, "_advm_store_code", None)
    if cached is None:
        code = module.to_bytes()
        cached = (code, hashlib.sha256(code).digest())
        module._advm_store_code = cached
    return cached


_UNSEEN = object()  # DurableDocument._last: commits acknowledged by callback, no future


def _forward(fut: cf.Future, done) -> None:
    def landed(f: cf.Future) -> None:
        exc = f.exception()
        if exc is None:
            done(f.result(), None)
        else:
            done(None, exc)

    fut.add_done_callback(landed)


def _done(value=None, error: BaseException | None = None) -> cf.Future:
    fut = cf.Future()
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(value)
    return fut


class DurableDocument:
    def __init__(self, store, key: str, module, living, *, seq: int, snapshot_seq: int,
                 viewers=None, restored_at: int | None = None):
        self.store = store
        self.key = key
        self.module = module
        self.living = living
        self.seq = seq                    # the last seq handed to the store
        self.snapshot_seq = snapshot_seq  # the seq of the newest snapshot handed to the store
        self.every = snapshot_every(module)
        self.history = maximum_history(module)
        self.viewers = viewers
        self.closed = False
        self.error: StoreError | None = None  # set once a commit failed
        self._due = _UNKNOWN
        self._pending: list[Entry] = []   # events that go out with the next commit
        self._restored_at = restored_at   # rebuilt from this snapshot; the log is not told yet
        self._last: cf.Future | None = None
        self.target = None                # a module waiting for a suspended block to finish (upgrade)

    # ------------------------------------------------------------ making one

    @classmethod
    def create(cls, store, key: str, module, who: str, arg, now: int, *,
               viewers, runtime_key: str | None = None,
               seed: str | None = None, sender=None) -> tuple["DurableDocument", list[dict]]:
        """A new document: the module is stored by hash, @construct runs, and
        the create input is logged; returns once it is durable. A create that
        fails (its frames say why) logs nothing and leaves no document.
        `viewers`: the runtime's viewers factory (spec/runtime.md 6), handed in
        by the caller above (views.viewers.Viewers to serve; durability imports
        no views).
        `runtime_key` is the key the runtime itself knows (`@key`, the Random
        seed), when it is not the store key. `seed` (runtime/engine.py fresh_seed)
        replaces the key-derived Random seed, and the create entry records it."""
        code, digest = module_digest(module)
        stored = store.put_module(code, {"filename": module.filename})
        runtime_key = key if runtime_key is None else runtime_key
        living = LivingDocument(module, key=runtime_key, viewers=viewers)
        item = as_input({"op": "create", "who": who, "arg": arg}, now)
        if seed is not None:
            item["seed"] = seed
        if sender is not None:  # a document creating this one (spec/language.md 4.32)
            item["sender"] = sender
        frames = living.apply(item)
        self = cls(store, key, module, living, seq=0, snapshot_seq=0, viewers=viewers)
        if not living.engine.created:
            return self, frames
        entry = inputs.to_entry(1, item, frames, {"module": digest, "key": runtime_key})
        self._commit([entry], self._maybe_snapshot(1)).result()
        stored.result()  # queued first, so already durable: a failure would leave no code
        return self, frames

    @classmethod
    def open(cls, store, key: str, modules: dict | None = None, *,
             viewers) -> "DurableDocument":
        """The document as durable: its newest snapshot plus the log after it,
        replayed through the runtime; then @load, if the document has one.
        `modules` maps module ids to modules already loaded; others come from
        the store. Raises a StoreError naming the key when the document is
        absent, damaged or written by an incompatible advm."""
        rec = store.load(key)
        living, module = rebuild(store, key, rec.snapshot, rec.entries, modules, viewers=viewers)
        # What replaying the tail printed or failed was reported when it first ran.
        living.engine.debug_lines.clear()
        living.failures.clear()
        seq = rec.entries[-1].seq if rec.entries else rec.seq
        self = cls(store, key, module, living, seq=seq, snapshot_seq=rec.seq, viewers=viewers,
                   restored_at=rec.seq if rec.snapshot is not None else None)
        meta = module.meta
        if "load" in meta["handlers"] and living.engine.created and not living.destroyed:
            self.living = inputs.round_trip(living, load=True, viewers=viewers)
            self._pending.append(self._event(inputs.LOAD))
        return self

    # ------------------------------------------------------------ inputs

    def submit(self, op: dict, now: int, done=None) -> cf.Future | None:
        """Run one input; the future gets its frames once its log entry is
        durable, or a StoreError if it cannot be made durable. With `done`,
        no future: done(frames, None) or done(None, error) is called instead,
        on the committer thread (keep it tiny) or, for an input that needs no
        commit, at once."""
        fut = self._submit(op, now, None if self.target is not None else done)
        if self.target is not None:
            fut = self._follow(fut)
            if done is not None:
                _forward(fut, done)
                return None
        if done is None:
            return fut
        if fut is not None:  # answered without the fast path: pass it on
            _forward(fut, done)
        return None

    def _submit(self, op: dict, now: int, done) -> cf.Future | None:
        if self.error is not None:
            # Refused without running; not told ahead of the replies still
            # held for earlier inputs (they fail too, or were durable).
            last = self._tail()
            if last is None or last.done():
                return _done(error=self.error)
            return self._release(last, None)
        if self.closed:
            return _done(error=StoreError(f"document {self.key!r} was closed", doc=self.key))
        item = as_input(op, now)
        refused = inputs.unloggable(item)
        if refused is not None:
            return _done(refused)
        living = self.living
        # The wake time written with the last logged input is the runtime's
        # now: only a logged input changes it (a refusal, a read, a rebuild
        # from a snapshot do not).
        due = self._due
        if due is _UNKNOWN:
            due = living.next_due()
        clock = living.clock
        frames = living.apply(item)
        if frames and not self._pending and _no_effect(frames, inputs.principal_of(item), due,
                                                       now, clock, living):
            # Not logged, but not released ahead of earlier inputs' frames either:
            # an error can tell what they did ("already_connected").
            last = self._tail()
            if last is None or last.done():
                return _done(frames)
            return self._release(last, frames)
        return self._log(item, frames, done)

    def upgrade(self, module, plan=None, *, restart_blocked: bool = False) -> cf.Future:
        """Move the document to `module` (runtime/upgrade.py; spec/runtime.md 9):
        the new module is stored by hash, the state mapped, @load run, and an
        `upgrade` event logged with a snapshot, in one commit (a crash leaves
        the document on exactly one of the two codes). Future of the frames
        the viewers are owed. Raises UpgradeRefused (nothing changed). While a
        block waits at an await, the move waits for that activation to end
        (`target`): the future then resolves with [] and the frames go out
        with the input that completes it."""
        if self.error is not None:
            return _done(error=self.error)
        if module.module_id() == self.module.module_id():
            self.target = None
            return _done([])
        try:
            return self._move(module, plan, restart_blocked)
        except Deferred:
            self.target = (module, plan)
            return _done([])

    def _move(self, module, plan, restart_blocked: bool = False):
        if plan is None:  # proved here so that the event records what it renamed (`@was`)
            plan = compare(self.module, module)
        code, digest = module_digest(module)
        living, frames = upgrade(self.living, module, plan, viewers=self.viewers,
                                 restart_blocked=restart_blocked)
        self.store.put_module(code, {"filename": module.filename})
        self.living, self.module, self.target = living, module, None
        self.every, self.history = snapshot_every(module), maximum_history(module)
        seq = self._next_seq()
        extra = {"module": digest, "digest": inputs.frames_digest(frames)}
        if plan is not None and plan.renamed:  # flag or `@was`: replay maps the same way
            extra["renames"] = dict(plan.renamed)
        if restart_blocked:
            extra["restart"] = True
        if plan is not None and plan.record_renames:  # `@was` in records (shown by snapshot inspect)
            extra["record_renames"] = {r: dict(m) for r, m in plan.record_renames.items()}
        entry = inputs.event_entry(seq, inputs.UPGRADE, living.clock, None, extra)
        return self._commit([entry], self._take_snapshot(seq), frames)

    def _follow(self, fut):
        """After an input: a deferred upgrade moves once no block is suspended;
        its frames go out with that input's."""
        if self.target is None or self.error is not None or self.living.engine.cont is not None:
            return fut
        module, plan = self.target
        try:
            moved = self._move(module, plan)
        except (Deferred, UpgradeRefused):
            return fut
        out = cf.Future()

        def both(_):
            try:
                first = fut.result() if fut is not None else []
                out.set_result(list(first) + list(moved.result()))
            except BaseException as e:  # noqa: BLE001 - handed on to the caller
                out.set_exception(e)
        moved.add_done_callback(both)
        return out

    def submit_async(self, op: dict, now: int):
        """submit() for asyncio code: a future of the running loop."""
        return asyncio.wrap_future(self.submit(op, now))

    def reconnect(self) -> cf.Future:
        """A scripted session's restart: every viewer the document lists as
        connected gets its connection, full view and open asks back, without
        @connected (spec/sessions.md section 5). Logged as an event, since it
        changes what the viewers were last sent. Future of the frames."""
        if self.error is not None:
            return _done(error=self.error)
        frames = inputs.reconnect(self.living)
        if not frames and not self._pending:
            return _done(frames)
        entry = inputs.event_entry(self._next_seq(), inputs.RECONNECT, self.living.clock,
                                   list(self.living.connected),
                                   {"digest": inputs.frames_digest(frames)})
        return self._commit([entry], self._maybe_snapshot(entry.seq), frames)

    def _tail(self) -> cf.Future | None:
        """A future that resolves once everything submitted is durable (None:
        nothing was)."""
        if self._last is _UNSEEN:  # the last commits were acknowledged by callback
            self._last = self.store.barrier(self.seq)
        return self._last

    def _log(self, item: dict, frames: list, done=None) -> cf.Future | None:
        if (self._pending or self._restored_at is not None
                or self.seq + 1 - self.snapshot_seq >= self.every):
            seq = self._next_seq()
            snapshot = self._maybe_snapshot(seq)
            return self._commit([inputs.to_entry(seq, item, frames)], snapshot, frames)
        seq = self.seq + 1
        # The usual input: one entry, no snapshot, no event: its record is
        # packed once, here, and handed over as it is, one future for it all.
        due = self.living.next_due()
        timer = KEEP if due == self._due else due
        self._due = due
        self.seq = seq
        record = inputs.record(seq, item, frames)
        try:
            if done is not None:
                self.store.append_envelope(self.key, record, seq=seq, timer=timer, value=frames,
                                           fail=self._failed, callback=done)
                self._last = _UNSEEN
                return None
            fut = self.store.append_envelope(self.key, record, seq=seq, timer=timer, value=frames,
                                             fail=self._failed)
        except Exception as e:  # a bad argument is raised at the call: same as a failed commit
            self._fail(e)
            return _done(error=self.error)
        self._last = fut
        return fut

    def _next_seq(self) -> int:
        return self.seq + len(self._pending) + 1

    def _event(self, kind: str) -> Entry:
        return inputs.event_entry(self._next_seq(), kind, self.living.clock)

    def _maybe_snapshot(self, seq: int) -> Snapshot | None:
        # A destroyed document is deleted by its host, not recovered: no snapshot.
        if seq - self.snapshot_seq < self.every or self.living.destroyed:
            return None
        return self._take_snapshot(seq)

    def _take_snapshot(self, seq: int) -> Snapshot:
        # The runtime goes on as it is: a snapshot is canonical (the machine
        # clears registers between calls, spec/snapshot.md 6), so one restored
        # from these bytes would snapshot the same from here on.
        return Snapshot(seq, self.living.snapshot(), SNAPSHOT_VERSION, self.living.clock)

    def _commit(self, entries: list[Entry], snapshot: Snapshot | None,
                frames=_SEQ) -> cf.Future:
        """Hand entries (after any pending events) and maybe a snapshot to the
        store, with the wake time if it changed. One future: it resolves with
        `frames` once durable (by default, with the document's last seq), or
        fails with the document's error."""
        if self._pending:
            entries = self._pending + entries
            self._pending = []
        if self._restored_at is not None and entries:
            first = entries[0]
            entries[0] = first._replace(extra={**first.extra, "from": self._restored_at})
            self._restored_at = None
        if snapshot is not None:
            if entries and entries[-1].seq == snapshot.seq:
                last = entries[-1]
                entries[-1] = last._replace(extra={**last.extra, "snap": True})
            else:
                # A snapshot of inputs already logged: the next entry says the
                # runtime continued from it.
                self._restored_at = snapshot.seq
            self.snapshot_seq = snapshot.seq
        due = self.living.next_due()
        timer = KEEP if due == self._due else due
        self._due = due
        if entries:
            self.seq = entries[-1].seq
        try:
            fut = self.store.commit(self.key, entries, snapshot=snapshot, timer=timer,
                                    history=self.history if snapshot is not None else None,
                                    fail=self._failed,
                                    **({} if frames is _SEQ else {"value": frames}))
        except Exception as e:  # a bad argument is raised at the call: same as a failed commit
            self._fail(e)
            return _done(error=self.error)
        self._last = fut
        return fut

    def _failed(self, exc: BaseException) -> BaseException:
        # On the committer thread, for the one future of a failed commit.
        self._fail(exc)
        return self.error

    def _release(self, commit: cf.Future, frames: list) -> cf.Future:
        """A future of `frames` once `commit` landed (an unlogged refusal
        waits for the inputs before it)."""
        out = cf.Future()

        def landed(f: cf.Future) -> None:  # runs on the committer thread: keep it small
            exc = f.exception() or self.error  # a barrier succeeds after a failed commit
            if exc is None:
                out.set_result(frames)
            else:
                self._fail(exc)
                out.set_exception(self.error)

        commit.add_done_callback(landed)
        return out

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            if isinstance(exc, StoreError) and exc.doc == self.key:
                self.error = exc
            else:
                err = StoreError(f"document {self.key!r}: its input could not be made durable: "
                                 f"{exc}", doc=self.key)
                err.__cause__ = exc
                self.error = err

    # ------------------------------------------------------------ reading

    def _settle(self) -> None:
        """Everything run so far is durable (pending events included): reads
        never show what a crash could still take back."""
        if self._pending and self.error is None:
            self._commit([], None)
        last = self._tail()
        if last is not None:
            try:
                last.result()
            except Exception as e:
                self._fail(e)
        if self.error is not None:
            raise self.error

    def view(self, who: str) -> dict:
        self._settle()
        return self.living.view(who)

    def asks_for(self, who: str) -> list[dict]:
        self._settle()
        return self.living.asks_for(who)

    def next_due(self) -> int | None:
        return self.living.next_due()

    # ------------------------------------------------------------ snapshots, closing

    def snapshot_now(self) -> cf.Future:
        """Write a snapshot of the document as it is now (after everything
        submitted). Future of the document's last seq, once durable."""
        if self.error is not None:
            return _done(error=self.error)
        head = self._next_seq() - 1
        if head == self.snapshot_seq and not self._pending:
            return self._tail() or _done(head)
        if self.living.destroyed:
            return self._commit([], None) if self._pending else (self._tail() or _done(head))
        return self._commit([], self._take_snapshot(head))

    def close(self) -> None:
        """Final snapshot (so the next open has no log to replay), wait until
        everything is durable, and let go. The store stays open."""
        if self.closed:
            return
        try:
            if self.error is None:
                self.snapshot_now()
            self._settle()
        finally:
            self.closed = True

    def __repr__(self) -> str:
        return f"<DurableDocument {self.key!r} seq={self.seq} snapshot={self.snapshot_seq}>"


# Error codes the runtime gives before any document code runs (spec/runtime.md 4):
# an input refused with one of these changed nothing at all.
REFUSED_BEFORE_CODE = frozenset({
    "queue_full", "destroyed", "not_created", "already_created", "already_connected",
    "not_connected", "unknown_ask", "stale_ask", "wrong_principal", "invalid_answer",
    "no_open_ask", "input"})


def _no_effect(frames, who, due, now, clock, living) -> bool:
    """True when an input certainly changed nothing: its only frames are
    errors for its sender of a kind given before any code ran, no timer was
    due before it, and the clock did not move. Such an input is not logged
    (spec/store.md 11.2). Anything less certain is logged, which is always
    safe; code that ran and aborted is logged too: it rolled back, but it ran
    on the machine's registers, and a block suspended later may capture
    what it left in registers it never wrote (spec/snapshot.md section 6),
    so replay must run it to reproduce snapshots byte for byte."""
    if not frames or who is None:
        return False
    for f in frames:
        if f.get("to") != who or "error" not in f or f["error"].get("code") not in REFUSED_BEFORE_CODE:
            return False
    return (due is None or due > now) and living.clock == clock


def rebuild(store, key: str, snapshot: Snapshot | None, entries: list[Entry],
            modules: dict | None = None, *, viewers, check: bool = True):
    """(runtime, module): `snapshot` restored (without @load) and `entries`
    applied, each checked against the frames digest it was logged with."""
    if snapshot is None and not entries:
        raise StoreError(f"document {key!r} is not in the store at {_where(store)}", doc=key)
    living, module = base(store, key, snapshot, entries[0] if entries else None, modules,
                          viewers=viewers)
    head = snapshot.seq if snapshot is not None else 0
    for entry in entries:
        if entry.seq != head + 1:
            raise CorruptRecord(f"document {key!r}: log entry {entry.seq} follows {head}",
                                doc=key, db="log")
        living, frames = inputs.apply(living, entry, head, doc=key, viewers=viewers,
                                      resolve=resolver(store, key, modules))
        if check:
            inputs.check_frames(entry, frames, doc=key)
        head = entry.seq
    return living, living.engine.module


def resolver(store, key: str, modules: dict | None):
    """resolve(sha256) -> the module an `upgrade` log entry names."""
    def resolve(digest: bytes):
        return resolve_module(store, key, digest.hex()[:32], modules, digest=digest)
    return resolve


def base(store, key: str, snapshot: Snapshot | None, first: Entry | None,
         modules: dict | None = None, *, viewers):
    """(runtime, module) a replay starts from: the snapshot restored without
    @load, or, with no snapshot, a fresh runtime for the log's create entry
    `first` to run on."""
    if snapshot is not None:
        if snapshot.format != SNAPSHOT_VERSION:
            raise IncompatibleStore(
                f"document {key!r}: its snapshot at seq {snapshot.seq} is runtime format "
                f"{snapshot.format}; this advm reads format {SNAPSHOT_VERSION}", doc=key)
        module = resolve_module(store, key, module_id_of(key, snapshot), modules)
        try:
            with gc_paused():  # see inputs.round_trip
                living = LivingDocument.restore(module, snapshot.data, viewers=viewers, load=False)
        except SnapshotError as e:
            raise CorruptRecord(f"document {key!r}: snapshot at seq {snapshot.seq} cannot be "
                                f"restored: {e}", doc=key, db="snapshots") from e
        return living, module
    if first is None or first.kind != "create" or first.seq != 1 or "module" not in first.extra:
        what = "no entries" if first is None else f"seq {first.seq}, {first.kind}"
        raise CorruptRecord(f"document {key!r} has no snapshot and its log does not start "
                            f"with its create input (first entry: {what})", doc=key, db="log")
    digest = bytes(first.extra["module"])
    module = resolve_module(store, key, digest.hex()[:32], modules, digest=digest)
    return LivingDocument(module, key=first.extra.get("key", key), viewers=viewers), module


def module_id_of(key: str, snapshot: Snapshot) -> str:
    """The module id a runtime snapshot names, read without decoding the
    document's values (the first few entries of its CBOR map)."""
    try:
        stream = io.BytesIO(snapshot.data)
        head = stream.read(1)[0]
        if head >> 5 != 5:
            raise ValueError("not a map")
        count = head & 0x1F
        if count >= 24:
            width = {24: 1, 25: 2, 26: 4, 27: 8}[count]
            count = int.from_bytes(stream.read(width), "big")
        decoder = cbor2.CBORDecoder(stream)
        for _ in range(count):
            name = decoder.decode()
            value = decoder.decode()
            if name == "module":
                return value
    except Exception as e:
        raise CorruptRecord(f"document {key!r}: snapshot at seq {snapshot.seq} is not a runtime "
                            f"snapshot ({e})", doc=key, db="snapshots") from None
    raise CorruptRecord(f"document {key!r}: snapshot at seq {snapshot.seq} names no module",
                        doc=key, db="snapshots")


def resolve_module(store, key: str, module_id: str, modules: dict | None, *,
                   digest: bytes | None = None):
    """The module with this id: from `modules`, else from the store (found by
    its hash, whose first 16 bytes are the id)."""
    if modules and module_id in modules:
        return modules[module_id]
    found = None
    if digest is not None:
        found = store.module(bytes(digest))
    else:
        for h in store.module_hashes():
            if h.hex()[:32] == module_id:
                found = store.module(h)
                break
    if found is None:
        raise StoreError(f"document {key!r} runs module {module_id}, which is neither loaded "
                         f"nor in the store at {_where(store)}", doc=key, db="modules")
    try:
        module = Module.from_bytes(found[0])
    except ModuleFormatError as e:
        raise IncompatibleStore(f"document {key!r}: its module {module_id} cannot be read by "
                                f"this advm: {e}", doc=key, db="modules") from e
    return module


def _where(store) -> str:
    return str(getattr(store, "path", "?"))


__all__ = ["DEFAULT_DOC", "DEFAULT_SNAPSHOT_EVERY", "DurableDocument", "base", "module_digest", "module_id_of", "rebuild",
           "resolve_module", "resolver", "snapshot_every"]
