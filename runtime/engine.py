"""A small Python API over one compiled document: create it, send it messages,
read it. Each event is one transaction.

    doc = Engine(build_source(source_text, "todo.adb"), key="list-1")
    doc.create(alice, {"title": "groceries"}, now=1767225600000)
    doc.send(bob, "create", {"text": "milk"}, now=...)
    doc.fields()            # the document's fields and formulas as plain JSON

A transaction sets the event's principal (@who) and timestamp (Time) in the
document's hidden slots, opens the machine's transaction (its undo log takes
every write: FSET, the logged opcodes, and the host functions of tables and
the library), runs the body, and commits. `abort`, a failed `assert`, a
run-time error or an exhausted instruction budget rolls every write back --
fields, rows, map entries, the pending transition, the random generator's
state -- and raises TransactionError; the document is then exactly as before
the event.

Durable await (spec/language.md section 8) is done here, one level below
the runtime (runtime/living.py): asks live in an AskBook (runtime/asks.py); a body that
reaches an `.await()` whose answer is not there yet commits what it did and
is set aside as a Continuation (`cont`); `resume()` continues it in a new
transaction; an await whose answer is already there takes a savepoint and
goes on, and an `abort` after it rolls back to that savepoint, refuses the
answer and leaves the code waiting there (`refused` says whose answer).
Timers, viewers, lifecycle and the input queue belong to runtime/living.py.
"""
from __future__ import annotations

import copy
import gc
import hashlib
import weakref
from contextlib import contextmanager

from ..vm._machine import Machine, Record, Suspended
from ..vm.docslots import (BLOCK_KIND, BLOCKED_KEY, CONTEXT, DEBUG, DESTROY, INVOKING, KEY, NEXT, NEXT_IN,
                           NO_ONE, NOW, PREEMPT_KEY, SEQ, SPACE, STATE, WHO, ZONE, as_principal)
from ..vm.errors import VMAbort, VMBudgetExhausted, VMError, public_message, public_position
from ..vm.host import ASK, SERVICE, VIEW_GOTO, VIEW_MERGE
from ..vm.stdlib import host_table
from ..vm.values import decoder, from_json, to_json
from .asks import AskBook
from .services import Services


# Per module (by identity, held weakly, as vm/_machine.pyx's code blocks): the
# function indexes, record makers and channel entries (decoders) that no
# document of the module owns, since none of them touches a document. Every
# document starts with these very dicts and copies the makers and channels
# only when it adds one of its own: a maker running a type's `new` function on
# its machine, and the decoders built on it (Engine._own_makers). Built per
# document they were 2.5 KB of each idle loaded counter document (issue 12).
_shared_by_module: dict[int, tuple] = {}


def _shared_caches(module) -> tuple[dict, dict, dict]:
    known = _shared_by_module.get(id(module))
    if known is not None and known[0]() is module:
        return known[1]
    key = id(module)
    caches = ({}, {}, {})  # fids, makers, channels
    _shared_by_module[key] = (weakref.ref(module, lambda _, key=key: _shared_by_module.pop(key, None)),
                              caches)
    return caches


class TransactionError(Exception):
    """An event that rolled back. `kind` is 'abort', 'assert', 'budget', 'error'
    (a run-time error) or 'input' (a bad message, nothing ran).

    `message` and `position` are the whole story, for the document's developer
    and the server's log; `public()` is what a client may read of it."""

    def __init__(self, kind: str, message: str, position: str = ""):
        self.kind = kind
        self.message = message
        self.position = position
        super().__init__(f"{position}: {message}" if position else message)

    def public(self) -> str:
        """The error as a client receives it (spec/protocol.md 8.7): where in
        the document (no server directories) and a fixed text per kind of
        fault. An `input` error's text is written from the message's type,
        never from what it held (vm/values.py), so it goes as it is."""
        if not self.position:
            return self.message
        return f"{public_position(self.position)}: {public_message(self.message)}"

    @property
    def withholds(self) -> bool:
        """Whether public() leaves out more than the server's directories."""
        return bool(self.position) and public_message(self.message) != self.message


@contextmanager
def gc_paused():
    """Run a transaction without Python's cyclic collector. Rows are tracked
    containers that refer to their table, so a bulk insert would otherwise
    trigger full collections over the whole document again and again; what a
    transaction drops is freed by reference counting, and the collector runs
    again between transactions."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            promote_young()
            gc.enable()


def promote_young() -> None:
    """Move every object the collector tracks into its oldest generation. What
    a paused region made and kept (restored rows, views for many viewers) is
    long-lived by nature; left young, the first allocation after the pause runs
    a collection over all of it (0.3-0.7 ms after waking a 64 KB document).
    Two list splices; skipped while the collector runs or anything is frozen
    (gc.freeze() is then someone else's and unfreeze() would undo it)."""
    if not gc.isenabled() and gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()


# A document's instruction budget per transaction unless `@static {
# instruction_budget = N; }` sets one (spec/bytecode.md section 4): a runaway
# loop is stopped after about half a second. The machine's own default
# (DEFAULT_BUDGET) is sized for the VM benchmarks, which run without a document.
DOCUMENT_BUDGET = 64_000_000

_START = -1  # Engine._invoke: no function index, a prepared start instead


def seed_for(key: str) -> int:
    """The PRNG seed derived from a document's key (spec/language.md 9): what
    a document starts with, kept by `--once`, scripted sessions and documents
    created before issue 10. A server replaces it at creation (reseed)."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")


SEED_HEX = 64  # a creation seed: 32 bytes as hex, the PRNG's whole state


def fresh_seed() -> str:
    """A new document's creation seed, from the operating system's entropy:
    nobody can compute the document's Random draws from what they know of it
    (its key, its inputs), and the creator cannot choose them by choosing a
    key. The create input carries it, so the log and replay keep it."""
    import secrets

    return secrets.token_hex(SEED_HEX // 2)


class Engine:
    _entering = None  # the state whose block run_state() is running (a fresh run, not a resume)

    def __init__(self, module, key: str = "document", space: str = "", seed: int | None = None,
                 budget: int | None = None):
        self.module = module
        self.meta = module.meta
        self.budget = budget or self.meta.get("budget") or DOCUMENT_BUDGET
        self.asks = AskBook()
        self.services = Services(self)
        self.machine = Machine(module, host=self._host_table(), budget=self.budget,
                               seed=seed_for(key) if seed is None else seed)
        props = self.meta["static"]["properties"]
        if props.get("maximum_string_length"):
            self.machine.max_string = props["maximum_string_length"]
        if props.get("maximum_collection_size"):
            self.machine.max_items = props["maximum_collection_size"]
        doc = self.machine.doc
        doc.f[KEY] = key
        doc.f[SPACE] = space
        doc.f[ZONE] = self.meta["static"]["properties"].get("timezone") or "UTC"
        self.created = False
        self.cont = None  # the waiting body's frames and registers, as data (a Continuation)
        self.refused: list = []  # (Ask, TransactionError): stored answers the last transaction refused
        self.debug_lines: list[str] = []
        # Whether @debug lines are kept (debug_lines): a host turns it off while
        # nobody listens, and @debug then costs one test (spec/language.md 6.12).
        self.listening = True
        self._awaited: list = []  # (savepoint, ask id) per await that did not wait, this transaction
        self._before = (NO_ONE, 0)  # @who and the clock before the open transaction
        # Worked out once per name instead of once per event (built on first use,
        # so a document that wakes pays nothing for channels it is not sent on),
        # and shared by the module's documents until one needs its own
        # (_shared_caches, _own_makers).
        self._fids: dict[str, int]  # function name -> index in the module
        self._makers: dict[tuple[str, str], object]  # (kind, name) -> fresh record maker
        self._channels: dict[str, tuple]  # channel -> (meta, fid or None, decoder, where)
        self._fids, self._makers, self._channels = _shared_caches(module)
        # Document.seq(): counted only by code that reads it, so the snapshots of
        # every other program stay what they were (and replay as they were)
        self._seq = any(h.name.startswith("Document.seq/0") for h in module.hosts)

    def reseed(self, seed: str) -> None:
        """Random's whole 256-bit state from a creation seed (fresh_seed()):
        its four little-endian 64-bit words (spec/snapshot.md 4.1)."""
        if type(seed) is not str or len(seed) != SEED_HEX:
            raise ValueError(f"a creation seed is {SEED_HEX} hex digits")
        raw = bytes.fromhex(seed)
        words = tuple(int.from_bytes(raw[i:i + 8], "little") for i in range(0, 32, 8))
        if any(words):
            self.machine.rng_state = words
        else:  # xoshiro's one fixed point; never drawn (2^-256), still defined
            self.machine.seed(0)

    def _host_table(self):
        """The library, with the functions the runtime binds (vm/host.py
        RuntimeBound) bound to this document: `ask` to its AskBook, so futures
        are registered where the runtime finds them."""
        return host_table(bindings={ASK: self.asks.open, SERVICE: self.services.call,
                                    VIEW_MERGE: self._view_merge, VIEW_GOTO: self._view_goto})

    # ViewState (spec/language.md 5.23): what a message's code tells its sender's
    # connection, kept for the transaction (None outside a message's: nobody to
    # tell) and handed to runtime/living.py once it commits (take_viewstate).
    _telling: list | None = None

    def _view_merge(self, value) -> bool:
        if self._telling is None:
            return False
        self._telling.append({"merge": copy.deepcopy(value)})
        return True

    def _view_goto(self, path: str) -> bool:
        if self._telling is None:
            return False
        self._telling.append({"goto": path})
        return True

    def take_viewstate(self) -> list:
        """What the committed message told its sender ([{merge: value} | {goto: path}]),
        once; nothing after any other input."""
        told, self._telling = self._telling, None
        return told or []

    @property
    def waiting(self):
        """The future the waiting body awaits ({id, channel, kind, who, options, limit}), or None."""
        return self.cont.payload if self.cont is not None else None

    def snapshot(self) -> bytes:
        """The machine with the document's state, between events (vm/snapshot.py).
        A waiting body and the asks are not part of it: runtime/living.py snapshots
        the whole runtime (`export()` / `from_export()`)."""
        return self.machine.snapshot()

    @classmethod
    def restore(cls, module, data: bytes) -> "Engine":
        """A created document back from `snapshot()` bytes."""
        doc = cls(module)
        doc.machine = Machine.from_snapshot(module, data, host=doc._host_table())
        doc.created = True
        return doc

    def export(self) -> dict:
        """Everything of the document between events, as machine values (for
        vm/snapshot.dumps_values, which keeps shared references: a waiting
        body's locals may hold rows of the document's tables)."""
        return {"doc": self.machine.doc, "rng": list(self.machine.rng_state), "cont": self.cont,
                "asks": self.asks.to_values(), "created": self.created}

    @classmethod
    def from_export(cls, module, state: dict) -> "Engine":
        doc = cls(module)
        doc.machine.doc = state["doc"]
        doc.machine.rng_state = tuple(state["rng"])
        doc.cont = state["cont"]
        doc.asks.load(state["asks"])  # in place: the machine's `ask` is bound to this book
        doc.created = state["created"]
        return doc

    # ------------------------------------------------------------ transactions

    @property
    def doc(self) -> Record:
        return self.machine.doc

    @property
    def now(self) -> int:
        """The document's clock: the last event's timestamp (ms since the epoch)."""
        return self.machine.doc.f[NOW]

    def _begin(self, who: str | None, now: int | None) -> None:
        f = self.machine.doc.f
        # Not logged (they are set before the machine's transaction opens), so
        # a rollback puts them back by hand: a refused event leaves no trace.
        self._before = (f[WHO], f[NOW])
        if who is not None:
            f[WHO] = who if "@" in who else as_principal(who)
        if now is not None:  # otherwise the clock stays at the previous event's time
            f[NOW] = int(now)
        f[DEBUG] = [] if self.listening else None
        if self.refused:
            self.refused = []
        if self._awaited:
            self._awaited = []
        self.asks.fresh = []  # AskBook.begin(), without the call
        self._telling = None
        self.machine.begin(self.budget)

    def _commit(self) -> None:
        self.machine.commit()
        f = self.machine.doc.f
        if f[INVOKING]:
            self._wake(f)
        if self._seq:
            f[SEQ] += 1  # Document.seq(): transactions committed (kept in snapshots; never logged)
        if f[DEBUG]:
            self.debug_lines.extend(f[DEBUG])
        f[DEBUG] = None

    def _rollback(self) -> None:
        # The machine replays its undo log (every kind of write, the asks
        # opened and consumed included), restores the PRNG and drops the
        # frames of the failed run.
        self.machine.rollback()
        self._telling = None
        f = self.machine.doc.f
        f[DEBUG] = None
        f[WHO], f[NOW] = self._before

    @staticmethod
    def _error_of(e: VMError) -> TransactionError:
        if isinstance(e, VMAbort):
            return TransactionError("abort", "the transaction aborted", e.position)
        if isinstance(e, VMBudgetExhausted):
            return TransactionError("budget", e.message, e.position)
        kind = "assert" if e.message == "assertion failed" else "error"
        return TransactionError(kind, e.message, e.position)

    def _failed(self, e: VMError) -> TransactionError:
        self._rollback()
        return self._error_of(e)

    def _guarded(self, start):
        """Run `start()` (which calls or resumes the machine) and everything it
        leads to as the open transaction, then settle it."""
        return self._settle(self._invoke(_START, start))

    def _run(self, steps):
        """Run [(function, args)] as one transaction (already begun)."""
        if len(steps) == 1:
            fn, args = steps[0]
            return self._run_one(fn, args)

        def start():
            result = None
            for fn, args in steps:
                result = self._through_ready(self.machine.call(self.fid(fn), *args))
                if isinstance(result, Suspended):
                    break
            return result
        return self._guarded(start)

    def _run_one(self, fn, args):
        """_run() of one function: what nearly every event is, so _guarded is
        written out (in _invoke), without a closure or a context manager (a
        few microseconds an event, which is most of what the runtime costs)."""
        return self._settle(self._invoke(fn if type(fn) is int else self.fid(fn), args))

    def _invoke(self, fid: int, args):
        """Call function `fid` inside the open transaction, the collector paused
        (see gc_paused): its result, the code past ready awaits, or the error
        as the transaction must see it (rolled back unless an await holds).
        With fid _START, `args` is a function that does the calling."""
        m = self.machine
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            if fid == _START:
                result = args()  # a prepared start: several calls, or a resume
            else:
                # one argument (a channel's message) is the common call; spreading
                # a tuple into the call costs as much as a slot write
                result = m.call(fid, args[0]) if len(args) == 1 else m.call(fid, *args)
                if type(result) is Suspended:
                    result = self._through_ready(result)
        except VMError as e:
            if not self._awaited:
                raise self._failed(e) from None
            result = self._back_to_await(e)
        except BaseException:
            self._rollback()
            raise
        finally:
            if paused:
                gc.enable()
        if type(result) is Suspended and type(result.payload) is list and result.payload \
                and result.payload[0] == BLOCK_KIND:
            return self._block()
        return result

    # ------------------------------------------------------------ preempt and block (language.md 6.9.1)

    def _block(self):
        """`block;` ran in a state block. After a `preempt #s`, what the block
        wrote commits and #s runs now. Otherwise the block gives up as an
        `abort` would: back to the last await it passed (which waits again),
        else all of the run is undone; a state whose run gave up from its start
        runs again once the document's next input commits."""
        m = self.machine
        label = m.doc.f[INVOKING].get(PREEMPT_KEY)
        if label is not None:
            m.detach()  # the block ends here
            self._preempt(label)
            return None
        err = TransactionError("block", "the state block ran `block;`")
        if self._awaited:
            return self._back_to_await(None, err)
        entering = self._entering
        self._rollback()
        if entering is not None:
            f = m.doc.f
            f[INVOKING] = {**f[INVOKING], BLOCKED_KEY: entering}
        raise err

    def _preempt(self, label: str) -> None:
        """The block waits (or blocks) after `preempt #label`: that state runs now.
        The block is given up whole, the states it was invoking with it."""
        f = self.machine.doc.f
        f[INVOKING] = {}
        f[NEXT] = label
        f[NEXT_IN] = 0.0

    def _wake(self, f) -> None:
        """A transaction committed: a state that ran `block;` runs again now,
        unless a transition is already scheduled (which then owns the document)."""
        inv = f[INVOKING]
        label = inv.get(BLOCKED_KEY)
        if label is None:
            return
        f[INVOKING] = {k: v for k, v in inv.items() if k != BLOCKED_KEY}
        if not f[NEXT]:
            f[NEXT] = label
            f[NEXT_IN] = 0.0

    def event(self, fid: int, args: tuple, who: str, now: int):
        """`transaction()` of function index `fid` for principal `who` (already
        "agent@authority") at `now` (an int): _begin, _run_one and, when the
        body neither waits nor leaves asks, _settle, written out in one place.
        runtime/living.py runs every ordinary message through here."""
        m = self.machine
        f = m.doc.f
        self._before = (f[WHO], f[NOW])
        f[WHO] = who
        f[NOW] = now
        f[DEBUG] = [] if self.listening else None
        if self.refused:
            self.refused = []
        if self._awaited:
            self._awaited = []
        asks = self.asks
        if asks.fresh:
            asks.fresh = []
        self._telling = []  # a message: its sender may be told (ViewState)
        m.begin(self.budget)
        result = self._invoke(fid, args)
        if type(result) is Suspended or asks.fresh or asks.asks:
            return self._settle(result)
        m.commit()
        if f[INVOKING]:
            self._wake(f)
        if self._seq:
            f[SEQ] += 1
        if f[DEBUG]:
            self.debug_lines.extend(f[DEBUG])
        f[DEBUG] = None
        return result

    def fid(self, name) -> int:
        """The module's index of function `name` (machine calls by index skip a search)."""
        if type(name) is int:
            return name
        fid = self._fids.get(name)
        if fid is None:
            fid = self._fids[name] = self.module.function_index(name)
        return fid

    def _through_ready(self, result):
        """Go on past every await whose answer is already there (spec section 8,
        point 3). Each such await is a savepoint: an abort after it comes back
        to it (point 4)."""
        while isinstance(result, Suspended):
            ready, answer = self.asks.ready(result.payload)
            if not ready:
                return result
            future = result.payload
            if future.get("id") is not None and not future.get("done"):
                self._awaited.append((self.machine.savepoint(), future["id"]))
                self.asks.consume(self.machine, future, answer)
            result = self.machine.resume(answer)
        return result

    def _back_to_await(self, e: VMError | None, err: TransactionError | None = None) -> Suspended:
        """`abort` (or an error, or `block;`) after an await that did not wait:
        undo back to it, refuse the answer it took, and wait there again. What
        ran before that await commits."""
        mark, ask_id = self._awaited[-1]
        self.machine.rollback_to(mark)
        ask = self.asks.refuse(ask_id)
        if ask is not None:
            self.refused.append((ask, err if err is not None else self._error_of(e)))
        return Suspended(self.machine.payload)

    def _settle(self, result):
        asks = self.asks
        inv = self.machine.doc.f[INVOKING]
        if inv and PREEMPT_KEY in inv:  # a state block ran `preempt #s` (language.md 6.9.1)
            if type(result) is Suspended and type(result.payload) is dict:
                self.machine.detach()  # it waits: the waiting code is dropped and #s runs now
                self._preempt(inv[PREEMPT_KEY])
                result = None
            elif type(result) is not Suspended:  # it ended without waiting: the preempt lapses
                self.machine.doc.f[INVOKING] = {k: v for k, v in inv.items() if k != PREEMPT_KEY}
        if type(result) is Suspended:
            # The checkpoint of spec/language.md section 8: what ran so far
            # commits, and the waiting code is set aside as data so other
            # events can run meanwhile (a waiting document is not a blocked one).
            self.cont = self.machine.detach()
            asks.keep_fresh()
        else:
            if asks.fresh:
                asks.drop_fresh()
            if self.cont is None and asks.asks:
                asks.withdraw_live()
        self._commit()
        return result

    def transaction(self, fn: str, *args, who: str = NO_ONE, now: int | None = None):
        """Run one module function as one transaction; returns its value."""
        self._begin(who, now)
        return self._run_one(fn, args)

    def read(self, fn: str, args: tuple, who: str):
        """Run `fn`, which only reads (the checker holds it to that), at the
        document's own time and roll it back: its value, and nothing kept."""
        self._begin(who, None)
        value = self._invoke(self.fid(fn), args)  # an error rolls back and raises
        self._rollback()
        return value

    def web(self, fn: str, args: tuple, who: str, now: int | None, *, read: bool):
        """Run @web handler `fn` (language.md 4.28) and give its WebResponse
        as JSON. `read` (get, options): the code only reads (the checker holds
        it to that), runs at the document's own time and is rolled back, so
        nothing of it stays: no time, no transaction count. Otherwise (put,
        delete) one transaction at `now`, like a channel's message."""
        if not read:
            self._begin(who, now)
            value = self._run_one(fn, args)
            return to_json(value, ["message", "WebResponse"], self.meta)
        self._begin(who, None)
        value = self._invoke(self.fid(fn), args)  # an error rolls back and raises
        try:
            return to_json(value, ["message", "WebResponse"], self.meta)
        finally:
            self._rollback()

    def _message(self, name: str | None, data):
        if name is None:
            return None
        # through the document's makers, so a message's `@parsed` blocks run (language.md 4.5)
        return decoder(["message", name], self.meta, self._struct_maker)({} if data is None else data, "message")

    def message(self, name: str, data=None) -> Record:
        """A message value built from JSON (missing fields take their defaults),
        e.g. an answer to `resume()`. Raises ValueError when it does not fit."""
        return self._message(name, data)

    def channel(self, channel: str) -> tuple | None:
        """(channel meta, handler's function index or None, message decoder,
        error path) of `channel`, or None when the document has no such channel."""
        entry = self._channels.get(channel)
        if entry is None:
            ch = self.meta["channels"].get(channel) if isinstance(channel, str) else None
            if ch is None:
                return None
            desc = ["list", ["message", ch["message"]]] if ch["array"] else ["message", ch["message"]]
            fid = self.fid(ch["fn"]) if ch["complete"] else None
            entry = self._channels[channel] = (ch, fid, decoder(desc, self.meta, self._struct_maker),
                                               f"message on '{channel}'")
        return entry

    def channel_value(self, channel: str, data):
        """The machine value of `data` (JSON) as a message on `channel`: one
        message, or an array of them for `channel<M[]>`. Raises TransactionError."""
        entry = self.channel(channel)
        if entry is None:
            raise TransactionError("input", f"the document has no channel '{channel}'")
        try:
            return entry[2](data if data is not None else {}, entry[3])
        except ValueError as e:
            raise TransactionError("input", str(e)) from None

    def _new_struct(self, kind: str, name: str) -> Record:
        make = self._makers.get((kind, name))
        if make is None:
            make = self._struct_maker(kind, name)
        return make()

    def _struct_maker(self, kind: str, name: str):
        """A function making a fresh `kind` (record or message) `name` with its defaults."""
        make = self._makers.get((kind, name))
        if make is not None:
            return make
        info = self.meta["records" if kind == "record" else "messages"][name]
        if info.get("new"):
            fid = self.fid(info["new"])

            def make():
                return self.machine.call(fid)
            self._own_makers()
        else:
            layout_id = info["layout"]
            template = list(self.module.records[layout_id].defaults)
            mutable = [i for i, v in enumerate(template) if type(v) in (list, dict)]

            if mutable:
                def make():
                    values = template[:]
                    for i in mutable:  # containers are per record; the rest is shared
                        values[i] = type(values[i])(values[i])
                    return Record(layout_id, values)
            else:
                def make():
                    return Record(layout_id, template[:])
        if info.get("parsed"):  # a message's `@parsed` blocks run once it is decoded (vm/values.py)
            pfid, plain = self.fid(info["parsed"]), make

            def make():
                return plain()
            def parsed(rec, name=name):
                try:
                    self.machine.call(pfid, rec)
                except VMError as e:  # the message is refused, as one that does not fit
                    raise ValueError(f"@parsed of message {name} failed: {e}") from None
            make.parsed = parsed
            self._own_makers()  # bound to this document's machine: not shared
        self._makers[(kind, name)] = make
        return make

    def _own_makers(self) -> None:
        """Stop sharing the module's makers and channel entries: a maker bound
        to this document's machine goes in, and so does every decoder built
        on it (channel() stores the entry after the decoder is made)."""
        shared = _shared_caches(self.module)
        if self._makers is shared[1]:
            self._makers = dict(self._makers)
            self._channels = dict(self._channels)

    def create(self, who: str, arg=None, now: int | None = None):
        """Build the document: field defaults, then @construct (with `arg`, a JSON
        object for `@construct (M m)`), as the first transaction."""
        if self.created:
            raise RuntimeError("the document was already created")
        steps = [(self.meta["init"], ())]
        h = self.meta["handlers"].get("construct")
        if h is not None:
            try:
                msg = self._message(h["message"], arg)
            except ValueError as e:
                raise TransactionError("input", str(e)) from None
            steps.append((h["fn"], (msg,) if h["message"] else ()))
        self._begin(who, now)
        result = self._run(steps)
        self.created = True
        return result

    def send(self, who: str, channel: str, message, now: int | None = None):
        """Deliver `message` (JSON) on a complete channel as one transaction."""
        entry = self.channel(channel)
        if entry is None:
            raise TransactionError("input", f"the document has no channel '{channel}'")
        if entry[1] is None:
            raise TransactionError("input", f"channel '{channel}' only answers asks (it has no handler)")
        try:
            msg = entry[2](message if message is not None else {}, entry[3])
        except ValueError as e:
            raise TransactionError("input", str(e)) from None
        self._begin(who, now)
        self._telling = []  # a message: its sender may be told (ViewState)
        return self._run_one(entry[1], (msg,))

    def handler(self, event: str, who: str = NO_ONE, now: int | None = None):
        """Run a lifecycle handler (@connected, @disconnected, @delete, @load);
        returns its bool for @connected and @delete, None when it is absent."""
        h = self.meta["handlers"].get(event)
        if h is None:
            return None
        return self.transaction(h["fn"], who=who, now=now)

    def ask_delete(self, who: str, now: int | None = None) -> bool:
        """@delete's answer for `who`; without @delete, deletion is refused.
        @delete only reads, so its transaction is rolled back whatever it says."""
        h = self.meta["handlers"].get("delete")
        if h is None:
            return False
        self._begin(who, now)
        with gc_paused():
            try:
                verdict = self.machine.call(h["fn"])
            except VMError as e:
                raise self._failed(e) from None
            finally:
                self._rollback()
        return bool(verdict)

    def cron(self, name: str, now: int | None = None):
        return self.transaction(self.meta["crons"][name]["fn"], now=now)

    def run_test(self, name: str):
        """Run `test name` on this (fresh, not created) document."""
        steps = [(self.meta["init"], ()), (self.meta["tests"][name], ())]
        self._begin(NO_ONE, None)
        return self._run(steps)

    def static_policy(self, name: str, who: str, origin: str = "", ip: str = "") -> bool:
        """`@static create/invent` for a would-be creator (no document state)."""
        fn = self.meta["static"]["policies"].get(name)
        if fn is None:
            return False
        self.doc.f[WHO] = as_principal(who)
        self.doc.f[CONTEXT] = {"origin": origin, "ip": ip}
        return self.machine.call(fn)

    # ------------------------------------------------------------ state machine hooks

    @property
    def state(self) -> str:
        return self.machine.doc.f[STATE]

    @property
    def pending(self) -> tuple[str, float] | None:
        """The transition code scheduled and nobody has taken yet (state, delay
        in seconds), or None. runtime/living.py takes it after every commit."""
        f = self.machine.doc.f
        nxt = f[NEXT]
        return (nxt, max(0.0, f[NEXT_IN])) if nxt else None

    def take_pending(self) -> tuple[str, float] | None:
        """The pending transition, cleared from the document (between events)."""
        got = self.pending
        f = self.machine.doc.f
        f[NEXT] = ""
        f[NEXT_IN] = 0.0
        return got

    @property
    def destroyed(self) -> bool:
        return bool(self.machine.doc.f[DESTROY])

    def destroy(self) -> None:
        """End the document for good (the runtime refuses inputs from now on)."""
        self.cancel()
        self.doc.f[DESTROY] = True

    def cancel(self) -> None:
        """Drop the waiting body and withdraw its asks: a state being entered
        owns the document (spec section 8, point 6). Its invoke bookkeeping
        goes too, or a later `invoke` of a state it was inside would fail."""
        if self.cont is not None:
            self.cont = None
            self.asks.withdraw_live()
            self.doc.f[INVOKING] = {}

    def run_state(self, label: str, now: int | None = None):
        """Enter state `label` and run its block as one transaction."""
        self.cancel()
        f = self.doc.f
        if f[INVOKING]:  # the state that ran `block;` is superseded (or runs again now)
            f[INVOKING] = {k: v for k, v in f[INVOKING].items() if k != BLOCKED_KEY}
        # The label changes even if the block aborts (spec/language.md section 8, point 4).
        f[STATE] = label
        self._entering = label
        try:
            return self.transaction(self.meta["states"][label], now=now)
        finally:
            self._entering = None

    def run_transition(self, now: int | None = None):
        """Enter the pending state and run its block as one transaction."""
        nxt = self.take_pending()
        if nxt is None:
            return None
        return self.run_state(nxt[0], now=now)

    def resume(self, value, now: int | None = None):
        """Deliver the awaited answer (a machine value) and continue the waiting
        body in a new transaction. If that transaction fails before another
        await, the body is still waiting for an answer (spec section 8, point 4)."""
        if self.cont is None:
            raise RuntimeError("nothing is waiting")
        cont = self.cont
        self._begin(None, now)

        def start():
            if isinstance(cont.payload, dict) and cont.payload.get("id") is not None:
                self.asks.consume(self.machine, cont.payload, value)
            result = self.machine.resume_detached(cont, value)
            self.cont = None  # taken: a rollback puts it back (below)
            return self._through_ready(result)

        try:
            return self._guarded(start)
        except TransactionError:
            self.cont = cont
            raise

    # ------------------------------------------------------------ reading

    def field(self, name: str):
        """One document field or formula, as JSON."""
        for f in self.meta["document"]["fields"]:
            if f["name"] == name:
                return to_json(self.doc.f[f["slot"]], f["type"], self.meta)
        fo = self.meta["formulas"].get(name)
        if fo is None or fo["bubble"]:
            raise KeyError(name)
        return to_json(self.machine.call(fo["fn"]), fo["type"], self.meta)

    def value(self, name: str):
        """One document field as the machine holds it (not converted)."""
        for f in self.meta["document"]["fields"]:
            if f["name"] == name:
                return self.doc.f[f["slot"]]
        raise KeyError(name)

    def bubble(self, name: str, who: str):
        fo = self.meta["formulas"][name]
        self.doc.f[WHO] = as_principal(who)
        return to_json(self.machine.call(fo["fn"]), fo["type"], self.meta)

    def fields(self, formulas: bool = True) -> dict:
        """Every field (and, by default, every formula) as plain JSON, ignoring privacy."""
        out = {f["name"]: to_json(self.doc.f[f["slot"]], f["type"], self.meta)
               for f in self.meta["document"]["fields"]}
        if formulas:
            for name in self.meta["formula_order"]:
                fo = self.meta["formulas"][name]
                if not fo["bubble"]:
                    out[name] = to_json(self.machine.call(fo["fn"]), fo["type"], self.meta)
        return out


__all__ = ["Engine", "TransactionError", "fresh_seed", "seed_for"]
