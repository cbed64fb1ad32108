"""Helpers for tests that compile Adama source and run it on the machine
(imported as `runkit`; pytest puts this folder on sys.path)."""
from __future__ import annotations

from advm.compiler.build import build_source
from advm.runtime.engine import Engine, TransactionError
from advm.vm._machine import Machine
from advm.vm.docslots import principal
from advm.vm.stdlib import host_table

ALICE = principal("alice", "users")
BOB = principal("bob", "users")
CAROL = principal("carol", "users")
T0 = 1767225600000  # 2026-01-01T00:00:00Z, the clock scripted sessions start at


class Program:
    """Functions of a document called directly (no transaction): `p.f(1, 2)` calls `fn.f`."""

    def __init__(self, source: str, filename: str = "t.adb"):
        self.source = source
        self.module = build_source(source, filename)
        self.machine = Machine(self.module, host=host_table())

    def __getattr__(self, name):
        def call(*args):
            return self.machine.call(f"fn.{name}", *args)
        return call


def program(source: str) -> Program:
    return Program(source)


def document(source: str, key: str = "doc", create: bool = True, who: str = ALICE, arg=None) -> Engine:
    d = Engine(build_source(source, "doc.adb"), key=key)
    if create:
        d.create(who, arg, now=T0)
    return d


__all__ = ["ALICE", "BOB", "CAROL", "T0", "Engine", "Program", "TransactionError", "document", "program"]
