"""A small Python API over one compiled document: create it, send it messages,
read it. Each event is one transaction.

    doc = Document.compile(source_text, "todo.adb", key="list-1")
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

The state machine, timers, viewers and durable await belong to the document
runtime (the next layer); this API exposes what it needs: the pending
transition, `run_transition()` to run it, and `resume()` for a body that
suspended on an `.await()`.
"""
from __future__ import annotations

import gc
import hashlib
from contextlib import contextmanager

from ._machine import DEFAULT_BUDGET, Machine, Record, Suspended
from .docslots import (CONTEXT, DEBUG, DESTROY, EPOCH, KEY, NEXT, NEXT_IN, NO_ONE, NOW, SPACE, STATE,
                       WHO, as_principal)
from .errors import VMAbort, VMBudgetExhausted, VMError
from .stdlib import host_table
from .values import from_json, to_json


class TransactionError(Exception):
    """An event that rolled back. `kind` is 'abort', 'assert', 'budget', 'error'
    (a run-time error) or 'input' (a bad message, nothing ran)."""

    def __init__(self, kind: str, message: str, position: str = ""):
        self.kind = kind
        self.message = message
        self.position = position
        super().__init__(f"{position}: {message}" if position else message)


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
            gc.enable()


def seed_for(key: str) -> int:
    """The document's PRNG seed, derived from its key (spec/language.md 9)."""
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")


class Document:
    def __init__(self, module, key: str = "document", space: str = "", seed: int | None = None,
                 budget: int | None = None):
        self.module = module
        self.meta = module.meta
        self.budget = budget or self.meta.get("budget") or DEFAULT_BUDGET
        self.machine = Machine(module, host=host_table(), budget=self.budget,
                               seed=seed_for(key) if seed is None else seed)
        doc = self.machine.doc
        doc.f[KEY] = key
        doc.f[SPACE] = space
        self.created = False
        self.waiting = None  # the future a suspended body awaits
        self.cont = None  # that body's frames and registers, as data (a Continuation)
        self.debug_lines: list[str] = []

    def snapshot(self) -> bytes:
        """The machine with the document's state, between events (vm/snapshot.py).
        A body waiting on an await is not part of it: its Continuation (`cont`)
        is the runtime's to keep."""
        return self.machine.snapshot()

    @classmethod
    def restore(cls, module, data: bytes) -> "Document":
        """A created document back from `snapshot()` bytes."""
        doc = cls(module)
        doc.machine = Machine.from_snapshot(module, data, host=host_table())
        doc.budget = module.meta.get("budget") or DEFAULT_BUDGET
        doc.created = True
        return doc

    @classmethod
    def compile(cls, text: str, filename: str = "<input>", **kw) -> "Document":
        from ..compiler.build import build_source

        return cls(build_source(text, filename), **kw)

    # ------------------------------------------------------------ transactions

    @property
    def doc(self) -> Record:
        return self.machine.doc

    @property
    def now(self) -> int:
        """The document's clock: the last event's timestamp (ms since the epoch)."""
        return self.doc.f[NOW]

    def _begin(self, who: str | None, now: int | None) -> None:
        doc = self.doc
        if who is not None:
            doc.f[WHO] = as_principal(who)
        if now is not None:  # otherwise the clock stays at the previous event's time
            doc.f[NOW] = int(now)
        doc.f[DEBUG] = []
        doc.f[EPOCH] += 1
        self.machine.begin(self.budget)

    def _commit(self) -> None:
        self.machine.commit()
        self.debug_lines.extend(self.doc.f[DEBUG] or [])
        self.doc.f[DEBUG] = None

    def _rollback(self) -> None:
        # The machine replays its undo log (every kind of write), restores the
        # PRNG and drops the frames of the failed run.
        self.machine.rollback()
        self.doc.f[DEBUG] = None

    def _failed(self, e: VMError) -> TransactionError:
        self._rollback()
        if isinstance(e, VMAbort):
            return TransactionError("abort", "the transaction aborted", e.position)
        if isinstance(e, VMBudgetExhausted):
            return TransactionError("budget", e.message, e.position)
        kind = "assert" if e.message == "assertion failed" else "error"
        return TransactionError(kind, e.message, e.position)

    def _run(self, steps):
        """Run [(function, args)] as one transaction (already begun)."""
        result = None
        with gc_paused():
            try:
                for fn, args in steps:
                    result = self.machine.call(fn, *args)
                    if isinstance(result, Suspended):
                        break
            except VMError as e:
                raise self._failed(e) from None
            except BaseException:
                self._rollback()
                raise
        return self._settle(result)

    def _settle(self, result):
        if isinstance(result, Suspended):
            # The checkpoint of spec/language.md section 8: what ran so far
            # commits, and the waiting code is set aside as data so other
            # events can run meanwhile (a waiting document is not a blocked one).
            self.waiting = result.payload
            self.cont = self.machine.detach()
        self._commit()
        return result

    def transaction(self, fn: str, *args, who: str = NO_ONE, now: int | None = None):
        """Run one module function as one transaction; returns its value."""
        self._begin(who, now)
        return self._run([(fn, args)])

    def _message(self, name: str | None, data):
        if name is None:
            return None
        return from_json({} if data is None else data, ["message", name], self.meta, self._new_struct)

    def message(self, name: str, data=None) -> Record:
        """A message value built from JSON (missing fields take their defaults),
        e.g. an answer to `resume()`. Raises ValueError when it does not fit."""
        return self._message(name, data)

    def _new_struct(self, kind: str, name: str) -> Record:
        info = self.meta["records" if kind == "record" else "messages"][name]
        if info.get("new"):
            return self.machine.call(info["new"])
        layout = self.module.records[info["layout"]]
        return Record(info["layout"], [type(v)(v) if type(v) in (list, dict) else v for v in layout.defaults])

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
        ch = self.meta["channels"].get(channel)
        if ch is None:
            raise TransactionError("input", f"the document has no channel '{channel}'")
        if not ch["complete"]:
            raise TransactionError("input", f"channel '{channel}' only answers asks (it has no handler)")
        desc = ["list", ["message", ch["message"]]] if ch["array"] else ["message", ch["message"]]
        try:
            msg = from_json(message if message is not None else {}, desc, self.meta, self._new_struct,
                            f"message on '{channel}'")
        except ValueError as e:
            raise TransactionError("input", str(e)) from None
        return self.transaction(ch["fn"], msg, who=who, now=now)

    def handler(self, event: str, who: str = NO_ONE, now: int | None = None):
        """Run a lifecycle handler (@connected, @disconnected, @delete, @load);
        returns its bool for @connected and @delete, None when it is absent."""
        h = self.meta["handlers"].get(event)
        if h is None:
            return None
        return self.transaction(h["fn"], who=who, now=now)

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
        return self.doc.f[STATE]

    @property
    def pending(self) -> tuple[str, float] | None:
        """The scheduled transition (state, delay in seconds) or None."""
        nxt = self.doc.f[NEXT]
        return (nxt, max(0.0, self.doc.f[NEXT_IN])) if nxt else None

    @property
    def destroyed(self) -> bool:
        return bool(self.doc.f[DESTROY])

    def run_transition(self, now: int | None = None):
        """Enter the pending state and run its block as one transaction."""
        nxt = self.doc.f[NEXT]
        if not nxt:
            return None
        self.doc.f[NEXT] = ""
        self.doc.f[NEXT_IN] = 0.0
        # The label changes even if the block aborts (spec/language.md section 8, point 4).
        self.doc.f[STATE] = nxt
        return self.transaction(self.meta["states"][nxt], now=now)

    def resume(self, value, now: int | None = None):
        """Deliver the awaited answer (a machine value) and continue the waiting
        body in a new transaction. If that transaction fails, the body is still
        waiting for an answer (spec/language.md section 8, point 4)."""
        if self.cont is None:
            raise RuntimeError("nothing is waiting")
        cont = self.cont
        self._begin(None, now)
        with gc_paused():
            try:
                result = self.machine.resume_detached(cont, value)
            except VMError as e:
                raise self._failed(e) from None
            except BaseException:
                self._rollback()
                raise
        self.cont = None
        self.waiting = None
        return self._settle(result)

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


__all__ = ["Document", "TransactionError", "seed_for"]
