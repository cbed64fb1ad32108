"""The emitter: the function being written, one at a time.

Every stage of code generation (gen_expr.py, gen_data.py, gen_call.py,
gen_stmt.py, gen_query.py) writes through one `Emitter`: it stamps each
instruction with the source position of the node being compiled, hands out
registers (regalloc.py), knows the locals in scope, the open loops and the
rows whose fields bare names read, and moves values between registers and
kinds. It knows no syntax beyond the node a position comes from; what an
expression or a statement becomes is the stages' business.

codegen.py makes one Emitter per module and calls `begin` for each body.
"""
from __future__ import annotations

from . import ast
from . import types as T
from .gen_types import bank_of, kind_of
from .regalloc import Reg, Registers


class CodegenError(Exception):
    """The checked tree holds something code generation cannot translate."""

    def __init__(self, message: str, span=None):
        super().__init__(message)
        self.span = span


class K:
    """A constant argument for a call: loaded straight into its window register."""

    __slots__ = ("value", "type")

    def __init__(self, value, t: T.Type):
        self.value = value
        self.type = t


BOX = {"i": "IBOX", "l": "IBOX", "b": "BBOX", "d": "DBOX"}
MOVE = {"i": "IMOV", "d": "DMOV", "o": "OMOV"}


def local_vars(body) -> dict:
    """(id(declaring node), name) -> LocalVar for every local a body refers to.

    The checker records a local's type on the LocalVar that names point to,
    not on the declaration, so the declarations find their variable here."""
    found = {}
    for n in ast.walk(body):
        if isinstance(n, ast.Name):
            ref = n.ref
            if ref is not None and ref.kind == "local" and ref.target.node is not None:
                found[(id(ref.target.node), ref.target.name)] = ref.target
    return found


class Emitter:
    def __init__(self, source):
        self.source = source  # the document's text: positions are its (line, column)
        self.f = None  # the vm.assembler.FunctionAsm being written
        self.pos: tuple[int, int] = (0, 0)

    def begin(self, f, params: list, result: T.Type, body=None, span=None) -> None:
        """Start writing `f`. `params` is [(key, Type)]: key is the (node, name)
        pair of the parameter's LocalVar (or None for hidden parameters such as
        a method's receiver); `body` is the syntax its locals are typed from."""
        self.f = f
        self.name = f.name
        self.result = result
        self.regs = Registers()
        self.vars: dict = {}  # (id(node), name) -> Reg
        self.types: dict = local_vars(body) if body is not None else {}
        self.loops: list = []  # (break label, continue label or None)
        self.rows: list = []  # (record name, Reg) whose fields bare names reach, innermost last
        self.scopes: list = [[]]  # keys of the locals each open block declared
        self.pos = (0, 0)
        self.pos = self.position(span)
        counts = {"i": 0, "d": 0, "o": 0}
        self.params: list[Reg] = []
        for key, t in params:
            bank = bank_of(t)
            reg = self.regs.param(bank, counts[bank])
            counts[bank] += 1
            self.params.append(reg)
            if key is not None:
                self.vars[key] = reg

    # ------------------------------------------------------------ positions and instructions

    def position(self, span) -> tuple[int, int]:
        if span is None or (span.start == 0 and span.end == 0):
            return self.pos
        return self.source.line_col(span.start)

    def at(self, node) -> tuple[int, int]:
        """Make `node` the source of the following instructions; returns the
        previous position, which the caller puts back in `pos` when done."""
        saved = self.pos
        span = getattr(node, "span", None)
        if span is not None and span.end > span.start:
            self.pos = self.source.line_col(span.start)
        return saved

    def emit(self, op: str, *args) -> None:
        self.f.emit(op, *args, pos=self.pos)

    def label(self, name: str | None = None):
        return self.f.label(name)

    def mark(self, label) -> None:
        self.f.mark(label)

    # ------------------------------------------------------------ registers

    def temp(self, t_or_bank) -> Reg:
        bank = t_or_bank if isinstance(t_or_bank, str) else bank_of(t_or_bank)
        return self.regs.temp(bank)

    def free(self, *regs) -> None:
        for r in regs:
            self.regs.free(r)

    def move(self, dst: Reg, src: Reg) -> None:
        if dst.bank != src.bank:
            raise CodegenError(f"internal: move between banks {src} -> {dst}")
        if dst.n != src.n:
            self.emit(MOVE[dst.bank], dst.n, src.n)

    def target(self, dst: Reg | None, t_or_bank) -> Reg:
        """The register a value goes to: `dst` if given, else a new temporary."""
        return dst if dst is not None else self.temp(t_or_bank)

    def scratch(self, dst: Reg | None, t_or_bank) -> Reg:
        """A register a multi-step computation may write early: `dst` only
        when it is a temporary nobody else reads (a variable given as `dst`
        may be read by the computation itself)."""
        if dst is not None and dst.temp:
            return dst
        return self.temp(t_or_bank)

    def finish(self, dst: Reg | None, reg: Reg) -> Reg:
        """Deliver `reg` into `dst` (when given), freeing `reg` if it was a scratch."""
        if dst is None or dst == reg:
            return reg
        self.move(dst, reg)
        self.free(reg)
        return dst

    def box(self, src: Reg, t: T.Type, dst: Reg) -> None:
        """Put a typed value into the object bank (maybes, lists, maps hold boxes)."""
        k = kind_of(t)
        if k == "o":
            self.move(dst, src)
        else:
            self.emit(BOX[k], dst.n, src.n)

    def unbox(self, src: Reg, t: T.Type, dst: Reg) -> None:
        k = kind_of(t)
        if k == "o":
            self.move(dst, src)
        elif k == "d":
            self.emit("DUNBOX", dst.n, src.n)
        else:
            self.emit("IUNBOX", dst.n, src.n)

    # ------------------------------------------------------------ locals, loops and rows

    def var_reg(self, var) -> Reg:
        key = (id(var.node), var.name)
        reg = self.vars.get(key)
        if reg is None:
            raise CodegenError(f"internal: local '{var.name}' has no register")
        return reg

    def declare(self, node, name: str, t: T.Type | None) -> Reg | None:
        """A register for a local declared by `node` (None when it is never read
        and its type is unknown)."""
        key = (id(node), name)
        var = self.types.get(key)
        if var is not None:
            t = var.type
        if t is None:
            return None
        reg = self.regs.local(bank_of(t))
        self.vars[key] = reg
        self.scopes[-1].append(key)
        return reg

    def local_type(self, node, name: str, fallback: T.Type | None) -> T.Type | None:
        var = self.types.get((id(node), name))
        return var.type if var is not None else fallback

    def push_scope(self) -> None:
        self.scopes.append([])

    def pop_scope(self) -> None:
        for key in self.scopes.pop():
            reg = self.vars.pop(key, None)
            if reg is not None:
                self.regs.drop_local(reg)

    def row_for(self, owner: str) -> Reg:
        """The innermost row of record `owner` in scope (a method's receiver, a
        `where` clause's row)."""
        for name, reg in reversed(self.rows):
            if name == owner:
                return reg
        raise CodegenError(f"internal: no row of {owner} in scope")


__all__ = ["CodegenError", "Emitter", "K", "local_vars"]
