"""`advm test FILE...`: run every `test name { ... }` block of each document.

Each test runs on a fresh document (field defaults, no @construct) as one
transaction, so tests cannot see each other's writes. A test passes when its
transaction commits; an `abort`, a failed `assert` or a runtime error fails
it, reported with the source position (and line, when the source is at hand).
A test that asserts nothing is reported as such: it passes, but proves little.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass

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

    def to_json(self) -> dict:
        return {"name": self.name, "ok": self.ok, "asserts": self.asserts, "kind": self.kind,
                "message": self.message, "position": self.position}


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


def run_one(program: Program, name: str, fn_name: str) -> Outcome:
    from ..vm._machine import Suspended
    from ..runtime.document import TransactionError

    asserts = count_asserts(program.module, fn_name)
    doc = new_document(program)
    try:
        result = doc.run_test(name)
    except TransactionError as e:
        return Outcome(name, False, asserts, e.kind, e.message, e.position or None)
    if isinstance(result, Suspended):
        return Outcome(name, False, asserts, "suspend", "the test waited on an await; tests cannot wait")
    return Outcome(name, True, asserts)


def report(program: Program, outcomes: list[Outcome]) -> None:
    print(f"{program.path}: {plural(len(outcomes), 'test')}" if outcomes else f"{program.path}: no tests")
    for o in outcomes:
        if o.ok:
            print(f"{o.name} ... ok" + ("" if o.asserts else " (no asserts)"))
            continue
        where = f" at {o.position}" if o.position else ""
        print(f"{o.name} ... FAILED: {o.message}{where}")
        for line in excerpt(program, o.position or ""):
            print(f"    {line}")


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
