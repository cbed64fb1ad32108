"""Symbolic instructions with labels -> packed 32-bit words.

Emitters (the compiler's code generator, tests, the benchmarks) write
instructions by opcode name with operands in table order, skipping the unused
(`_`) fields:

    f = mod.function("fib", params="i", result="i")
    done = f.label("done")
    f.emit("ILTJK", 0, 2, 0, done)    # constant operands are given as values
    ...
    f.mark(done)

Constant operands (`ki`, `kd`, `ko`) take the constant's value and are interned
into the function's pools; function, host and record operands take a name or an
index; a J-flagged instruction takes its branch target (a Label) as one extra
last operand. `assemble()` lays out words, resolves labels, range-checks every
field and computes each bank's register count.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass

from . import opcodes as O
from .errors import AssemblyError
from .module import KIND_BANK, Function, HostImport, Module, RecordLayout

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


class Label:
    __slots__ = ("name", "address")

    def __init__(self, name: str):
        self.name = name
        self.address: int | None = None

    def __repr__(self) -> str:
        return f"Label({self.name!r} @ {self.address})"


@dataclass
class Instr:
    info: O.OpInfo
    args: tuple  # values for the non-`_` operands, in table order
    target: Label | None
    pos: tuple[int, int]


class FunctionAsm:
    def __init__(self, module: "ModuleAsm", name: str, params: str = "", result: str = ""):
        for kind in params + result:
            if kind not in KIND_BANK:
                raise AssemblyError(f"{name}: unknown value kind {kind!r}")
        self.module = module
        self.name = name
        self.params = params
        self.result = result
        self.items: list[Instr | Label] = []
        self.pos = (0, 0)  # source position given to instructions emitted without one
        self._reserved = [0, 0, 0]
        self._labels = 0

    def label(self, name: str | None = None) -> Label:
        self._labels += 1
        return Label(name or f"L{self._labels}")

    def mark(self, label: Label) -> Label:
        if any(item is label for item in self.items):
            raise AssemblyError(f"{self.name}: label {label.name} placed twice")
        self.items.append(label)
        return label

    def reserve(self, i: int = 0, d: int = 0, o: int = 0) -> None:
        """Make each bank at least this many registers (for registers no operand names)."""
        self._reserved = [max(a, b) for a, b in zip(self._reserved, (i, d, o))]

    def emit(self, name: str, *args, pos: tuple[int, int] | None = None) -> None:
        info = O.BY_NAME.get(name)
        if info is None:
            raise AssemblyError(f"{self.name}: unknown opcode {name!r}")
        wanted = [k for k in info.operands if k != "_"]
        target = None
        if info.has_jump_word or info.name == "JMP":
            if len(args) != len(wanted) + (0 if info.name == "JMP" else 1):
                raise AssemblyError(f"{self.name}: {name} takes {len(wanted)} operand(s) and a "
                                    f"target label, got {len(args)} argument(s)")
            target = args[-1]
            if not isinstance(target, Label):
                raise AssemblyError(f"{self.name}: {name} needs a Label as its target")
            args = () if info.name == "JMP" else args[:-1]
        elif len(args) != len(wanted):
            raise AssemblyError(f"{self.name}: {name} takes {len(wanted)} operand(s) "
                                f"({' '.join(wanted) or 'none'}), got {len(args)}")
        self.items.append(Instr(info, tuple(args), target, pos or self.pos))

    # ----------------------------------------------------------- assembly
    def assemble(self) -> Function:
        fn = Function(self.name, self.params, self.result)
        pools = _Pools(fn)
        address = 0
        for item in self.items:  # pass 1: addresses
            if isinstance(item, Label):
                item.address = address
            else:
                address += item.info.width
        regs = list(fn.params_per_bank())
        regs = [max(a, b) for a, b in zip(regs, self._reserved)]
        for index, ins in enumerate(i for i in self.items if isinstance(i, Instr)):
            where = f"{self.name}: instruction {index} ({ins.info.name})"
            words = self._encode(ins, len(fn.code), pools, regs, where)
            fn.code.extend(words)
            fn.lines.extend([ins.pos[0]] * len(words))
            fn.cols.extend([ins.pos[1]] * len(words))
        for label in (i for i in self.items if isinstance(i, Label)):
            if label.address is None:
                raise AssemblyError(f"{self.name}: label {label.name} never placed")
        if any(r > O.MAX_REGS for r in regs):
            raise AssemblyError(f"{self.name}: needs {regs} registers, a bank holds at most "
                                f"{O.MAX_REGS}")
        fn.nregs = tuple(regs)
        return fn

    def _encode(self, ins: Instr, address: int, pools: "_Pools", regs: list[int],
                where: str) -> list[int]:
        info = ins.info
        values = list(ins.args)
        fields = []
        for index, kind in enumerate(info.operands):
            if kind == "_":
                fields.append(0)
                continue
            if kind == "sj":
                fields.append(_jump(ins.target, address, 1, where))
                continue
            value = values.pop(0)
            value = self._resolve(kind, value, pools, info, where)
            low, high = O.field_range(info.fmt, index, kind)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise AssemblyError(f"{where}: operand {index + 1} ({O.KINDS[kind]}) = {value!r} "
                                    f"out of range {low}..{high}")
            bank = O.bank_of(kind)
            if bank is not None:
                slot = "ido".index(bank)
                regs[slot] = max(regs[slot], value + 1)
            fields.append(value)
        self._call_window(info, fields, regs)
        words = [_pack(info, fields)]
        if info.has_jump_word:
            jmp = O.BY_NAME["JMP"]
            words.append(_pack(jmp, [_jump(ins.target, address + 1, 1, where)]))
        return words

    def _resolve(self, kind: str, value, pools: "_Pools", info: O.OpInfo, where: str):
        if kind == "ki":
            if isinstance(value, bool) or not isinstance(value, int):
                raise AssemblyError(f"{where}: int constant expected, got {value!r}")
            if not INT64_MIN <= value <= INT64_MAX:
                raise AssemblyError(f"{where}: int constant {value} does not fit in 64 bits")
            if value == 0 and info.name in O.NONZERO_CONST:
                raise AssemblyError(f"{where}: constant divisor is zero")
            return pools.int(value)
        if kind == "kd":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise AssemblyError(f"{where}: double constant expected, got {value!r}")
            if value == 0 and info.name in O.NONZERO_CONST:
                raise AssemblyError(f"{where}: constant divisor is zero")
            return pools.double(float(value))
        if kind == "ko":
            return pools.obj(value)
        if kind == "fn" and isinstance(value, str):
            return self.module.function_index(value, where)
        if kind == "host" and isinstance(value, str):
            return self.module.host_index(value, where)
        if kind == "rec" and isinstance(value, str):
            return self.module.record_index(value, where)
        if kind == "k" and isinstance(value, bool):
            return int(value)
        return value

    def _call_window(self, info: O.OpInfo, fields: list[int], regs: list[int]) -> None:
        """Arguments and the result of a call sit in the caller's registers from A up."""
        if info.name == "CALL":
            callee = self.module.signature_of_function(fields[1])
        elif info.name == "CALLHOST":
            callee = self.module.signature_of_host(fields[1])
        else:
            return
        if callee is None:
            return
        params, result = callee
        base = fields[0]
        counts = Function("", params).params_per_bank()
        for slot in range(3):
            if counts[slot]:
                regs[slot] = max(regs[slot], base + counts[slot])
        if result:
            slot = "ido".index(KIND_BANK[result])
            regs[slot] = max(regs[slot], base + 1)


def _jump(target: Label | None, address: int, width: int, where: str) -> int:
    if target is None or target.address is None:
        name = target.name if target is not None else "?"
        raise AssemblyError(f"{where}: label {name} never placed")
    offset = target.address - (address + width)
    low, high = O.field_range("sJ", 0, "sj")
    if not low <= offset <= high:
        raise AssemblyError(f"{where}: jump of {offset} words does not fit in sJ")
    return offset


def _pack(info: O.OpInfo, fields: list[int]) -> int:
    if info.fmt == "ABC":
        a, b, c = fields
        if "sc" in info.operands:
            c += O.OFFSET_SC
        return O.encode_abc(info.code, a, b, c)
    if info.fmt == "ABx":
        return O.encode_abx(info.code, *fields)
    if info.fmt == "AsBx":
        return O.encode_asbx(info.code, *fields)
    return O.encode_sj(info.code, fields[0])


class _Pools:
    """Interned constants; doubles are keyed by bit pattern so -0.0 and NaN stay distinct."""

    def __init__(self, fn: Function):
        self.fn = fn
        self.ints: dict[int, int] = {}
        self.doubles: dict[bytes, int] = {}
        self.objs: dict[tuple, int] = {}

    def int(self, value: int) -> int:
        if value not in self.ints:
            self.ints[value] = len(self.fn.kint)
            self.fn.kint.append(value)
        return self.ints[value]

    def double(self, value: float) -> int:
        key = struct.pack("<d", value)
        if key not in self.doubles:
            self.doubles[key] = len(self.fn.kdbl)
            self.fn.kdbl.append(value)
        return self.doubles[key]

    def obj(self, value) -> int:
        key = (type(value).__name__, value if not isinstance(value, float) or not math.isnan(value)
               else "nan")
        try:
            hash(key)
        except TypeError:
            key = ("id", id(value))
        if key not in self.objs:
            self.objs[key] = len(self.fn.kobj)
            self.fn.kobj.append(value)
        return self.objs[key]


class ModuleAsm:
    def __init__(self, filename: str = "<asm>", source_hash: str = ""):
        self.filename = filename
        self.source_hash = source_hash
        self.functions: list[FunctionAsm] = []
        self.records: list[RecordLayout] = []
        self.hosts: list[HostImport] = []
        self.document = -1
        self.meta: dict = {}

    def function(self, name: str, params: str = "", result: str = "") -> FunctionAsm:
        if any(f.name == name for f in self.functions):
            raise AssemblyError(f"function {name!r} defined twice")
        f = FunctionAsm(self, name, params, result)
        self.functions.append(f)
        return f

    def record(self, name: str, fields: list[str], kinds: str, defaults: list | None = None) -> int:
        if defaults is None:
            defaults = [{"i": 0, "l": 0, "b": False, "d": 0.0, "o": None}[k] for k in kinds]
        self.records.append(RecordLayout(name, list(fields), kinds, list(defaults)))
        return len(self.records) - 1

    def host(self, name: str, params: str = "", result: str = "") -> int:
        for i, h in enumerate(self.hosts):
            if h.name == name:
                return i
        self.hosts.append(HostImport(name, params, result))
        return len(self.hosts) - 1

    def function_index(self, name: str, where: str = "") -> int:
        for i, f in enumerate(self.functions):
            if f.name == name:
                return i
        raise AssemblyError(f"{where}: unknown function {name!r}")

    def host_index(self, name: str, where: str = "") -> int:
        for i, h in enumerate(self.hosts):
            if h.name == name:
                return i
        raise AssemblyError(f"{where}: unknown host function {name!r} (declare it with host())")

    def record_index(self, name: str, where: str = "") -> int:
        for i, r in enumerate(self.records):
            if r.name == name:
                return i
        raise AssemblyError(f"{where}: unknown record {name!r}")

    def signature_of_function(self, index: int):
        if 0 <= index < len(self.functions):
            f = self.functions[index]
            return f.params, f.result
        return None

    def signature_of_host(self, index: int):
        if 0 <= index < len(self.hosts):
            return self.hosts[index].params, self.hosts[index].result
        return None

    def assemble(self) -> Module:
        return Module(filename=self.filename, source_hash=self.source_hash,
                      functions=[f.assemble() for f in self.functions],
                      records=list(self.records), hosts=list(self.hosts),
                      document=self.document, meta=dict(self.meta))
