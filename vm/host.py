"""Host functions: the standard library the machine calls through CALLHOST.

A module imports host functions by name with the signature it was compiled
against; the machine is given a table (name -> HostFunction) and checks each
import against it when it loads. Arguments arrive as Python values (ints,
bools, floats, objects) read from the caller's registers A.. of each bank; a
function that needs the machine (the PRNG lives there) gets it first.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class HostFunction:
    fn: Callable
    params: str = ""  # kind letters, as in module.Function.params
    result: str = ""
    wants_machine: bool = False


@dataclass(frozen=True)
class RuntimeBound:
    """A host function the runtime implements for each document, because it
    needs that document's own state. Declared here, once: the compiler imports
    it under `name` (compiler/gen_call.py) and the runtime hands its
    implementation to `stdlib.host_table(bindings={declaration: fn})`, which
    makes every import of it, whatever its kinds, from that function. Without
    a binding the library's stand-in answers (vm/stdlib.py)."""

    name: str
    wants_machine: bool  # the runtime's implementation takes the machine first
    what: str


# A channel's fetch/decide/choose (a future the body awaits): the runtime opens
# the ask in the document's AskBook (runtime/asks.py `AskBook.open`).
ASK = RuntimeBound("ask", True, "open an ask of a channel to a principal and return its future")
# A service call, `svc.m(who, msg)`: the runtime opens it in the document's
# service book (runtime/services.py), or, in a formula, reads its cached result,
# and gives the result<T> map (spec/language.md 4.27).
SERVICE = RuntimeBound("service", True, "call a service method, giving its result")
# Adama's ViewState global (spec/language.md 5.23): a message's code tells its
# sender's connection to merge a value into its viewer state, or to go to a
# path. The runtime queues it for the sender (runtime/engine.py) and answers
# whether there is a sender to tell; the library's stand-in answers false.
VIEW_MERGE = RuntimeBound("ViewState.merge/1", False, "merge a value into the sender's viewer state")
VIEW_GOTO = RuntimeBound("ViewState.goto/1", False, "send the sender's client to a path")


def _bounded(machine, n: int) -> int:
    # Random.genBoundInt(n): uniform in [0, n), 0 when n <= 0 (nothing to draw from).
    return machine.rng_below(n) if n > 0 else 0


def _gen_int(machine) -> int:
    # A uniform 32-bit signed int: the top 32 bits of the next output.
    x = machine.rng_next() >> 32
    return x - (1 << 32) if x >= (1 << 31) else x


def core_library() -> dict[str, HostFunction]:
    """The host functions the VM itself specifies (the PRNG and exact math)."""
    return {
        "Random.genInt": HostFunction(_gen_int, "", "i", True),
        "Random.genBoundInt": HostFunction(_bounded, "i", "i", True),
        "Random.genDouble": HostFunction(lambda m: m.rng_double(), "", "d", True),
        "Random.seed": HostFunction(lambda m, s: m.seed(s), "l", "", True),
        "Math.sqrt": HostFunction(lambda x: math.sqrt(x) if x >= 0 else math.nan, "d", "d"),
        "Math.abs": HostFunction(abs, "d", "d"),
        "Math.floor": HostFunction(lambda x: float(math.floor(x)) if math.isfinite(x) else x,
                                   "d", "d"),
    }
