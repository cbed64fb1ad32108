"""A suspended computation as plain data, detached from its machine.

`Machine.detach()` turns a machine stopped at SUSPEND into a Continuation and
leaves the machine idle, so one document can hold several waiting
computations (parallel asks) while it keeps serving other calls;
`Machine.resume_detached(cont, value)` puts one back and continues it. The
outermost frame always starts at register 0 of each bank, so reinstalling is
a copy. Continuations serialise with the snapshot codec (vm/snapshot.py).
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
