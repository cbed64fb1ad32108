"""Human-readable listings of assembled code, driven by the opcode table.

One line per instruction: pc, source line:col, opcode, operands printed by
kind (`i3`, `d0`, `o2`, constants with their value, jump targets as absolute
pcs, callee names), then the table's semantics as a comment. With the source
text, each new source line is printed above the code it produced.

`instructions()` yields one record per instruction; the text listing here and
`advm disasm --json` (advm/commands/disasm.py) both render those records.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from . import opcodes as O
from .module import Function, Module


def _operand(m: Module, fn: Function, kind: str, value: int, pc: int, info: O.OpInfo) -> str:
    if kind in ("i", "d", "o"):
        return f"{kind}{value}"
    if kind == "ki":
        return f"{fn.kint[value]}" if value < len(fn.kint) else f"KI[{value}]?"
    if kind == "kd":
        return repr(fn.kdbl[value]) if value < len(fn.kdbl) else f"KD[{value}]?"
    if kind == "ko":
        return repr(fn.kobj[value]) if value < len(fn.kobj) else f"KO[{value}]?"
    if kind == "sj":
        return f"-> {pc + 1 + value}"
    if kind == "fn":
        return m.functions[value].name if value < len(m.functions) else f"F[{value}]?"
    if kind == "host":
        return m.hosts[value].name if value < len(m.hosts) else f"H[{value}]?"
    if kind == "rec":
        return m.records[value].name if value < len(m.records) else f"REC[{value}]?"
    if kind == "fld":
        return f".{value}"
    if kind == "k":
        return f"k={value}"
    if kind == "base":
        return f"@{value}"
    return str(value)


@dataclass(frozen=True, slots=True)
class Operand:
    kind: str  # the opcode table's operand kind ("i", "ki", "sj", "fn", ...)
    value: int
    text: str  # as the listing prints it


@dataclass(frozen=True, slots=True)
class Instruction:
    """One instruction of a listing; both renderers (the text below, and
    `advm disasm --json`) print these."""

    pc: int
    line: int
    col: int
    width: int  # words, its jump word included
    op: str | None  # None: a word that decodes to no opcode
    word: int
    operands: tuple[Operand, ...]
    semantics: str | None
    source: str | None  # its source line, when the source is known and has that line


def instructions(m: Module, fn: Function, source_lines: list[str] | None = None) -> Iterator[Instruction]:
    """`fn`'s code, one record per instruction, in order."""
    code = fn.code
    pc = 0
    while pc < len(code):
        line, col = fn.position(pc)
        source = source_lines[line - 1] if source_lines is not None and 0 < line <= len(source_lines) else None
        info, fields = O.decode(code[pc])
        if info is None:
            yield Instruction(pc, line, col, 1, None, code[pc], (), None, source)
            pc += 1
            continue
        ops = [Operand(k, v, _operand(m, fn, k, v, pc, info))
               for k, v in zip(info.operands, fields) if k != "_"]
        if info.has_jump_word and pc + 1 < len(code):
            _, (offset,) = O.decode(code[pc + 1])
            ops.append(Operand("sj", offset, f"-> {pc + 2 + offset}"))
        yield Instruction(pc, line, col, info.width, info.name, code[pc], tuple(ops), info.sem, source)
        pc += info.width


def disasm_function(m: Module, fn: Function, source_lines: list[str] | None = None) -> list[str]:
    """The text listing of one function: its header, then one line per
    instruction, each new source line printed above the code it produced."""
    sig = ", ".join(fn.params)
    out = [f"function {fn.name}({sig}) -> {fn.result or 'void'}    "
           f"regs i{fn.nregs[0]} d{fn.nregs[1]} o{fn.nregs[2]}    {len(fn.code)} words"]
    last_line = None
    for ins in instructions(m, fn, source_lines):
        line = ins.line
        if ins.source is not None and line != last_line:
            out.append(f"    ; {line:4d} | {ins.source.rstrip()}")
        last_line = line
        if ins.op is None:
            out.append(f"  {ins.pc:5d}  {line:4d}:{ins.col:<3d} ??? {ins.word:#010x}")
            continue
        text = f"  {ins.pc:5d}  {line:4d}:{ins.col:<3d} {ins.op:<9s} {' '.join(o.text for o in ins.operands)}"
        out.append(f"{text:<52s} ; {ins.semantics}")
    return out


def disasm(m: Module, source: str | None = None) -> str:
    """The whole module: host imports, records, then every function."""
    lines = source.splitlines() if source is not None else None
    out = [f"module {m.filename}  ({len(m.functions)} functions)"]
    for i, h in enumerate(m.hosts):
        out.append(f"host {i}: {h.name}({', '.join(h.params)}) -> {h.result or 'void'}")
    for i, r in enumerate(m.records):
        fields = ", ".join(f"{k}:{n}" for n, k in zip(r.fields, r.kinds))
        out.append(f"record {i}: {r.name} {{{fields}}}")
    for fn in m.functions:
        out.append("")
        out.extend(disasm_function(m, fn, lines))
    return "\n".join(out) + "\n"
