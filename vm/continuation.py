"""A suspended computation as plain data, detached from its machine.

`Machine.detach()` turns a machine stopped at SUSPEND into a Continuation and
leaves the machine idle, so one document can hold several waiting
computations (parallel asks) while it keeps serving other calls;
`Machine.resume_detached(cont, value)` puts one back and continues it. The
outermost frame always starts at register 0 of each bank, so reinstalling is
a copy. Continuations serialise with the snapshot codec (vm/snapshot.py).

A Savepoint holds one too when it is taken at an await, which is how a
rollback to that savepoint puts the code back there waiting.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Continuation:
    frames: list  # [fid, pc, ibase, dbase, obase] per frame, outermost first
    ibank: bytes  # live int registers, 8 bytes each, machine order
    dbank: bytes  # live double registers
    obank: list  # live object registers
    payload: object  # what the SUSPEND handed out
    module_id: str  # the code it belongs to


@dataclass(eq=False)
class Savepoint:
    """A point of the open transaction to roll back to (`Machine.savepoint()`).

    Compared by identity: a machine accepts only marks it handed out in its
    current transaction that a rollback has not discarded.
    """

    txn: int  # which transaction of the machine it belongs to
    log_length: int  # undo entries before it
    rng: tuple  # the PRNG state then
    cont: Continuation | None  # the suspended computation then, or None when idle
    remaining: int  # budget left then (rollback() of the whole transaction gives it back)
