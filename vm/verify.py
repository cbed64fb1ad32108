"""Static checks on encoded code, run before the machine executes a module.

The hot loop does no per-instruction bounds checks; it relies on these rules:
every word decodes to a known opcode; register operands are inside the
function's window of their bank; constant, function, host, record indices
exist; a J-flagged instruction is followed by a JMP word; every jump lands on
an instruction start inside the function; execution cannot run off the end;
returns match the declared result; a call's arguments and result fit in the
caller's registers.
"""
from __future__ import annotations

from . import opcodes as O
from .errors import VerifyError
from .module import KIND_BANK, Function, Module

RET_FOR_BANK = {"i": "IRET", "d": "DRET", "o": "ORET"}


# Modules this process has verified, by content (module_id() is a hash of the
# encoded module, computed once per Module object). The same code read again
# (from a store, for a replay or another document) is the same code: every
# Machine built on it after the first skips the checks. A Module is not
# changed once it has an id (vm/module.py).
_verified: set[str] = set()
_VERIFIED_MAX = 4096  # a host that loads that many code versions starts over


def verify_module(m: Module) -> None:
    mid = m.module_id()
    if mid in _verified:
        return
    for index, fn in enumerate(m.functions):
        verify_function(m, index, fn)
    if m.document >= len(m.records):
        raise VerifyError(f"document layout {m.document} does not exist")
    if len(_verified) >= _VERIFIED_MAX:
        _verified.clear()
    _verified.add(mid)


def verify_function(m: Module, findex: int, fn: Function) -> None:
    def fail(pc: int, msg: str):
        line, col = fn.position(pc)
        raise VerifyError(f"{m.filename}:{line}:{col}: {fn.name} pc {pc}: {msg}")

    if not fn.code:
        raise VerifyError(f"{fn.name}: empty code")
    if any(n < 0 or n > O.MAX_REGS for n in fn.nregs):
        raise VerifyError(f"{fn.name}: register counts {fn.nregs} out of range")
    params = fn.params_per_bank()
    if any(p > n for p, n in zip(params, fn.nregs)):
        raise VerifyError(f"{fn.name}: more parameters than registers")
    starts = set()
    jumps = []
    pc = 0
    code = fn.code
    while pc < len(code):
        starts.add(pc)
        info, fields = O.decode(code[pc])
        if info is None:
            fail(pc, f"unknown opcode {code[pc] & 0xFF}")
        if info.has_jump_word:
            if pc + 1 >= len(code):
                fail(pc, f"{info.name} is missing its JMP word")
            nxt, jfields = O.decode(code[pc + 1])
            if nxt is None or nxt.name != "JMP":
                fail(pc, f"{info.name} must be followed by a JMP word")
            jumps.append((pc, pc + 2 + jfields[0]))
        for kind, value in zip(info.operands, fields):
            _check_operand(m, fn, info, kind, value, pc, fail)
        if info.name == "JMP":
            jumps.append((pc, pc + 1 + fields[0]))
        _check_special(m, fn, info, fields, pc, fail)
        pc += info.width
    last_pc = max(starts)
    last, _ = O.decode(code[last_pc])
    if not last.terminates:
        fail(last_pc, "code can run off the end of the function")
    for source, target in jumps:
        if target not in starts:
            fail(source, f"jump to {target} is not an instruction start")


def _check_operand(m, fn, info, kind, value, pc, fail):
    bank = O.bank_of(kind)
    if bank is not None:
        limit = fn.nregs["ido".index(bank)]
        if value >= limit:
            fail(pc, f"{info.name}: register {bank}{value} outside the {limit}-register window")
    elif kind == "ki" and value >= len(fn.kint):
        fail(pc, f"{info.name}: int constant {value} does not exist")
    elif kind == "kd" and value >= len(fn.kdbl):
        fail(pc, f"{info.name}: double constant {value} does not exist")
    elif kind == "ko" and value >= len(fn.kobj):
        fail(pc, f"{info.name}: object constant {value} does not exist")
    elif kind == "fn" and value >= len(m.functions):
        fail(pc, f"{info.name}: function {value} does not exist")
    elif kind == "host" and value >= len(m.hosts):
        fail(pc, f"{info.name}: host import {value} does not exist")
    elif kind == "rec" and value >= len(m.records):
        fail(pc, f"{info.name}: record layout {value} does not exist")
    elif kind == "k" and value > 1:
        fail(pc, f"{info.name}: flag operand must be 0 or 1")
    elif kind == "_" and value != 0:
        fail(pc, f"{info.name}: unused field holds {value}")


def _check_special(m, fn, info, fields, pc, fail):
    name = info.name
    if name in O.NONZERO_CONST:
        pool = fn.kdbl if name == "DDIVK" else fn.kint
        if pool[fields[2]] == 0:
            fail(pc, f"{name}: constant divisor is zero")
    if name.startswith(("FGET", "FSET")):
        if m.document < 0:
            fail(pc, f"{name}: the module has no document layout")
        elif fields[1] >= len(m.records[m.document].fields):
            fail(pc, f"{name}: document field {fields[1]} does not exist")
    if name in ("RET", "IRET", "DRET", "ORET"):
        expected = RET_FOR_BANK[KIND_BANK[fn.result]] if fn.result else "RET"
        if name != expected:
            fail(pc, f"{name} in a function whose result calls for {expected}")
    if name in ("CALL", "CALLHOST"):
        if name == "CALL":
            callee = m.functions[fields[1]]
            params, result = callee.params, callee.result
        else:
            host = m.hosts[fields[1]]
            params, result = host.params, host.result
        counts = Function("", params).params_per_bank()
        base = fields[0]
        for slot, n in enumerate(counts):
            if n and base + n > fn.nregs[slot]:
                fail(pc, f"{name}: arguments at {base}.. do not fit the caller's "
                         f"{'ido'[slot]} registers")
        if result:
            slot = "ido".index(KIND_BANK[result])
            if base >= fn.nregs[slot]:
                fail(pc, f"{name}: result register {'ido'[slot]}{base} outside the window")
