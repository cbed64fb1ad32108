"""Human-readable listings of assembled code, driven by the opcode table.

One line per instruction: pc, source line:col, opcode, operands printed by
kind (`i3`, `d0`, `o2`, constants with their value, jump targets as absolute
pcs, callee names), then the table's semantics as a comment. With the source
text, each new source line is printed above the code it produced.
"""
from __future__ import annotations

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


def disasm_function(m: Module, fn: Function, source_lines: list[str] | None = None) -> list[str]:
    sig = ", ".join(fn.params)
    out = [f"function {fn.name}({sig}) -> {fn.result or 'void'}    "
           f"regs i{fn.nregs[0]} d{fn.nregs[1]} o{fn.nregs[2]}    {len(fn.code)} words"]
    last_line = None
    pc = 0
    while pc < len(fn.code):
        line, col = fn.position(pc)
        if source_lines is not None and line != last_line and 0 < line <= len(source_lines):
            out.append(f"    ; {line:4d} | {source_lines[line - 1].rstrip()}")
        last_line = line
        info, fields = O.decode(fn.code[pc])
        if info is None:
            out.append(f"  {pc:5d}  {line:4d}:{col:<3d} ??? {fn.code[pc]:#010x}")
            pc += 1
            continue
        ops = [_operand(m, fn, k, v, pc, info)
               for k, v in zip(info.operands, fields) if k != "_"]
        if info.has_jump_word and pc + 1 < len(fn.code):
            _, (offset,) = O.decode(fn.code[pc + 1])
            ops.append(f"-> {pc + 2 + offset}")
        text = f"  {pc:5d}  {line:4d}:{col:<3d} {info.name:<9s} {' '.join(ops)}"
        out.append(f"{text:<52s} ; {info.sem}")
        pc += info.width
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
