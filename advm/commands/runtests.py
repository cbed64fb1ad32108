"""`advm test FILE...`: run every `test name { ... }` block of each document.

Each test runs on a fresh document (field defaults, no @construct), so tests
cannot see each other's writes. A test passes when its code ends without an
`abort`, a failed `assert` or a runtime error, which fail it, reported with
the source position (and line, when the source is at hand). A test that
asserts nothing is reported as such: it passes, but proves little.

A test without harness statements is one transaction. The harness statements
(spec/language.md 4.24) suspend the test; `Harness` acts between transactions
and resumes it: `@step` runs the pending transition now (`RuntimeHost.step`), `@forward s` moves
the clock and runs what falls due, `@pump m into c` queues `m` for the next
ask on `c`, `@aborts { ... }` runs its block expecting an abort (its writes
are undone) and fails the test when the block ends. `log` and `@debug` lines
written during the test are its report's log.

Time passes on the one runtime host (runtime/host.py `RuntimeHost.pass_time`), the
loop every driver uses: the harness is what it wakes (a `Timed`), each wake
running the pending transition once it is due, at most MAX_IMMEDIATE of them
in a row at one instant (the runtime's one cap).
"""
from __future__ import annotations

import argparse
from collections import deque
from dataclasses import dataclass, field

from .base import (Command, ExitCode, Failure, UsageError, add_json_flag, err, out_json, plural,
                   read_bytes)
from .program import Program, corrupt, excerpt, load, new_document

ASSERT_MESSAGE = "assertion failed"  # the FAIL constant code generation emits for `assert`


@dataclass
class Outcome:
    name: str
    ok: bool
    asserts: int
    kind: str | None = None  # abort, assert, budget, error, suspend
    message: str | None = None
    position: str | None = None
    log: list = field(default_factory=list)  # the lines `log` and `@debug` wrote

    def to_json(self) -> dict:
        return {"name": self.name, "ok": self.ok, "asserts": self.asserts, "kind": self.kind,
                "message": self.message, "position": self.position, "log": list(self.log)}


def count_asserts(module, fn_name: str) -> int:
    """The `assert`s in a test's code: FAIL instructions raising ASSERT_MESSAGE
    (read from the listing's records, vm/disasm.py)."""
    from ..vm.disasm import instructions

    fn = module.functions[module.function_index(fn_name)]
    n = 0
    for ins in instructions(module, fn):
        if ins.op == "FAIL" and ins.operands:
            k = ins.operands[-1].value
            if k < len(fn.kobj) and fn.kobj[k] == ASSERT_MESSAGE:
                n += 1
    return n


def in_order(program: Program) -> list[tuple[str, str]]:
    """(test name, function) in declaration order. The module file stores its
    tables as canonical CBOR, which sorts map keys; its function list keeps
    the order code generation emitted them in, which is the source's."""
    module = program.module
    try:
        return sorted(module.meta["tests"].items(), key=lambda item: module.function_index(item[1]))
    except (KeyError, TypeError) as e:
        if program.from_module_file:
            raise corrupt(program.path, f"corrupt module: its test table is broken ({e})") from None
        raise


class TestFailed(Exception):
    def __init__(self, kind: str, message: str, position: str = ""):
        super().__init__(message)
        self.kind, self.message, self.position = kind, message, position


class Harness:
    """Runs one test whose harness statements suspend it (see the module's
    docstring). The test's own waiting code and a state block's are both
    kept: the document holds one at a time (`doc.cont`), so the harness
    swaps them around each action. The clock is the host's."""

    def __init__(self, doc, name: str):
        from ..runtime.host import RuntimeHost

        self.doc = doc
        self.name = name
        self.host = RuntimeHost(doc.module, None, clock=doc.now)
        self.scheduled = None  # (state, due ms): the pending transition
        self.pumped: dict[str, deque] = {}  # channel -> values @pump queued
        self.state_cont = None  # a state block waiting on an ask
        self.aborts: list = []  # the test's code waiting at each @aborts it is inside, innermost last
        self._burst, self._instant = 0, None  # transitions run in a row at one instant

    @property
    def now(self) -> int:
        return self.host.clock

    def run(self):
        from ..vm._machine import Suspended

        result = self.guard(lambda: self.doc.run_test(self.name))
        while isinstance(result, Suspended):
            payload = result.payload
            if not (isinstance(payload, list) and payload and isinstance(payload[0], str)
                    and payload[0].startswith("$")):
                raise TestFailed("suspend", "the test waited on an await; tests cannot wait")
            kind, value = payload[0], 0
            test_cont = self.doc.cont
            self.doc.cont = self.state_cont
            if kind == "$step":
                self.host.step(self)  # the pending transition now, due or not
            elif kind == "$forward":
                self.forward(payload[1])
            elif kind == "$send":
                value = self.send(*payload[1:4])
            elif kind == "$pump":
                self.pumped.setdefault(payload[1], deque()).append(payload[2])
                self.feed()
            self.state_cont = self.doc.cont
            self.doc.cont = test_cont
            if kind == "$aborts":
                self.aborts.append(test_cont)
            result = self.resume(value)
            self.took()
        return result

    def resume(self, value):
        while True:
            try:
                return self.doc.resume(value, self.now)
            except self.errors() as e:
                if not (self.aborts and e.kind == "abort"):
                    raise TestFailed(e.kind, e.message, e.position) from None
                # the innermost block aborted, as expected: what it wrote since its
                # last harness statement is undone, and the test goes on after it
                # (its @aborts resumed with 1, wherever in the block the abort was)
                self.doc.cont, value = self.aborts.pop(), 1

    @staticmethod
    def errors():
        from ..runtime.engine import TransactionError

        return TransactionError

    def guard(self, run):
        try:
            result = run()
        except self.errors() as e:
            raise TestFailed(e.kind, e.message, e.position) from None
        self.took()
        return result

    def took(self) -> None:
        """After a transaction: the transition it scheduled (the last one wins),
        due when the runtime would make it due (runtime/schedule.py)."""
        from ..runtime.schedule import due_after

        got = self.doc.take_pending()
        if got is not None:
            self.scheduled = (got[0], due_after(self.now, got[1]))

    def send(self, channel: str, who: str, value) -> int:
        """@send: the message goes to the channel's handler as `who`, a
        transaction of its own (as a client's message would). An abort there
        fails the test, but inside @aborts it is the abort the block expects:
        the message's writes are undone and 1 tells the test to abort its block
        (as Adama's test catches the handler's AbortMessageException). It goes
        as JSON, so it is checked as a client's is."""
        from ..vm.values import to_json

        ch = self.doc.channel(channel)[0]
        desc = ["list", ["message", ch["message"]]] if ch["array"] else ["message", ch["message"]]
        data = to_json(value, desc, self.doc.meta)
        try:
            self.doc.send(who, channel, data, now=self.now)
        except self.errors() as e:
            if not (self.aborts and e.kind == "abort"):
                raise TestFailed(e.kind, e.message, e.position) from None
            return 1
        self.took()
        self.feed()
        return 0

    def enter(self, label: str, now: int) -> None:
        self.guard(lambda: self.doc.run_state(label, now=now))
        self.feed()

    def forward(self, seconds) -> None:
        """@forward: the host lets the time pass (RuntimeHost.pass_time)."""
        self._burst = 0
        self.host.pass_time(self, self.now + round(float(seconds) * 1000))

    # ------------------------------------------------------------ what the host wakes (Timed)

    def next_due(self) -> int | None:
        return self.scheduled[1] if self.scheduled is not None else None

    @property
    def capped(self) -> bool:
        from ..runtime.host import MAX_IMMEDIATE

        return self._burst >= MAX_IMMEDIATE

    def wake(self, at: int, early: bool = False) -> list:
        """The pending transition, if it is due by `at` (or, `early`, at all:
        @step through RuntimeHost.step): it runs at `at`."""
        if self.scheduled is None or (self.scheduled[1] > at and not early):
            return []
        label, _ = self.scheduled
        self.scheduled = None
        self._burst = self._burst + 1 if at == self._instant else 1
        self._instant = at
        self.enter(label, at)
        return []

    def feed(self) -> None:
        """Answer a waiting state block's ask from what @pump queued for its channel."""
        doc = self.doc
        while doc.cont is not None:
            future = doc.cont.payload
            ask = doc.asks.asks.get(future.get("id")) if isinstance(future, dict) else None
            queue = self.pumped.get(ask.channel) if ask is not None else None
            if not queue:
                return
            value = queue.popleft()
            self.guard(lambda: doc.resume(value, self.now))


def run_one(program: Program, name: str, fn_name: str) -> Outcome:
    asserts = count_asserts(program.module, fn_name)
    doc = new_document(program)
    try:
        Harness(doc, name).run()
    except TestFailed as e:
        return Outcome(name, False, asserts, e.kind, e.message, e.position or None, list(doc.debug_lines))
    return Outcome(name, True, asserts, log=list(doc.debug_lines))


def report(program: Program, outcomes: list[Outcome]) -> None:
    print(f"{program.path}: {plural(len(outcomes), 'test')}" if outcomes else f"{program.path}: no tests")
    for o in outcomes:
        if o.ok:
            print(f"{o.name} ... ok" + ("" if o.asserts else " (no asserts)"))
            for line in o.log:
                print(f"    log: {line}")
            continue
        where = f" at {o.position}" if o.position else ""
        print(f"{o.name} ... FAILED: {o.message}{where}")
        for line in excerpt(program, o.position or ""):
            print(f"    {line}")
        for line in o.log:
            print(f"    log: {line}")


def run(args: argparse.Namespace) -> ExitCode:
    # Every unreadable input is reported before any test runs, as `check` does.
    problems = []
    for path in args.files:
        try:
            read_bytes(path)
        except UsageError as e:
            problems.extend(e.messages)
    if problems:
        raise UsageError(*problems)
    files, passed, failed, not_run = [], 0, 0, 0
    for path in args.files:
        try:
            program = load(path)
            new_document(program)  # a module that cannot load fails here, before any report line
            tests = in_order(program)
        except Failure as f:
            not_run += 1
            files.append(f.data or {"filename": path, "ok": False})
            if not args.json:
                err(f.text)
            continue
        outcomes = [run_one(program, name, fn) for name, fn in tests]
        passed += sum(o.ok for o in outcomes)
        failed += sum(not o.ok for o in outcomes)
        files.append({"filename": path, "ok": all(o.ok for o in outcomes),
                      "tests": [o.to_json() for o in outcomes]})
        if not args.json:
            report(program, outcomes)
    if args.json:
        out_json({"files": files, "passed": passed, "failed": failed, "not_run": not_run})
    else:
        tail = f", {plural(not_run, 'file')} not run" if not_run else ""
        print(f"{passed} passed, {failed} failed{tail}")
    return ExitCode.OK if all(f["ok"] for f in files) else ExitCode.FAILURE


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="Adama documents (.adb) or compiled modules (.advc)")
    add_json_flag(p, "every test's outcome")


COMMAND = Command("test", "run the documents' test blocks; report each", add_arguments, run,
                  success="every test of every file passed",
                  failure="a test failed, or a file did not compile or load")
