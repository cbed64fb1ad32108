"""Code generation: the checked tree -> symbolic machine instructions.

`generate(compilation)` returns an assembler module (vm/assembler.py) holding
one function per body of the document: functions, procedures, methods,
channel handlers, state blocks, lifecycle handlers, cron jobs, formulas,
bubbles, policies, static policies, tests, field defaults and record
constructors (gen_doc.py decides which and how they are named). `FuncGen`
generates one body: this file has its registers, locals, labels, the one
`emit()` that stamps each instruction with the source position of the node
being compiled, calls and value conversions; the mixins add operators
(gen_expr.py), structured values (gen_data.py), calls and the library
(gen_call.py), statements (gen_stmt.py) and queries (gen_query.py).
"""
from __future__ import annotations

from . import ast
from . import types as T
from .gen_call import CallGen
from .gen_data import DataGen
from .gen_expr import ExprGen, K
from .gen_query import QueryGen
from .gen_stmt import StmtGen
from .gen_types import bank_of, kind_of, result_kind
from .regalloc import Reg, Registers


class CodegenError(Exception):
    """The checked tree holds something code generation cannot translate."""

    def __init__(self, message: str, span=None):
        super().__init__(message)
        self.span = span


BOX = {"i": "IBOX", "l": "IBOX", "b": "BBOX", "d": "DBOX"}
MOVE = {"i": "IMOV", "d": "DMOV", "o": "OMOV"}


def local_vars(body) -> dict:
    """(id(declaring node), name) -> LocalVar for every local a body refers to.

    The checker records a local's type on the LocalVar that names point to,
    not on the declaration, so the declarations find their variable here."""
    found = {}
    stack = [body]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Name):
            ref = n.ref
            if ref is not None and ref.kind == "local" and ref.target.node is not None:
                found[(id(ref.target.node), ref.target.name)] = ref.target
        for value in vars(n).values():
            if isinstance(value, ast.Node):
                stack.append(value)
            elif isinstance(value, list):
                stack.extend(v for v in value if isinstance(v, ast.Node))
    return found


class FuncGen(ExprGen, DataGen, CallGen, StmtGen, QueryGen):
    def __init__(self, mod, name: str, params: list, result: T.Type, body=None, span=None):
        """`params` is [(key, Type)]: key is the (node, name) pair of the
        parameter's LocalVar (or None for hidden parameters such as a method's
        receiver)."""
        self.mod = mod
        self.info = mod.info
        self.result = result
        self.f = mod.functions[name]
        self.name = name
        self.regs = Registers()
        self.vars: dict = {}  # (id(node), name) -> Reg
        self.types: dict = local_vars(body) if body is not None else {}
        self.loops: list = []  # (break label, continue label or None)
        self.rows: list = []  # (record name, Reg) whose fields bare names reach, innermost last
        self.scopes: list = [[]]  # keys of the locals each open block declared
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

    # ------------------------------------------------------------ emitting

    def position(self, span) -> tuple[int, int]:
        if span is None or (span.start == 0 and span.end == 0):
            return getattr(self, "pos", (0, 0))
        return self.mod.source.line_col(span.start)

    def at(self, node) -> tuple[int, int]:
        """Make `node` the source of the following instructions; returns the
        previous position for `restore`."""
        saved = self.pos
        span = getattr(node, "span", None)
        if span is not None and span.end > span.start:
            self.pos = self.mod.source.line_col(span.start)
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

    # ------------------------------------------------------------ calls

    def call(self, fn_name: str, args: list, ptypes: list, result: T.Type, dst: Reg | None = None,
             host: bool = False) -> Reg | None:
        """Call a module function (or a host function when `host`) with `args`
        (Expr or (Reg, Type) pairs) converted to `ptypes`; returns the
        result's register (None for void)."""
        counts = [0, 0, 0]
        for t in ptypes:
            counts["ido".index(bank_of(t))] += 1
        rbank = bank_of(result) if result != T.VOID else None
        base, window = self.regs.window(tuple(counts), rbank)
        slots = {"i": iter([r for r in window if r.bank == "i"]),
                 "d": iter([r for r in window if r.bank == "d"]),
                 "o": iter([r for r in window if r.bank == "o"])}
        for a, pt in zip(args, ptypes):
            reg = next(slots[bank_of(pt)])
            if isinstance(a, tuple):
                src, st = a
                self.convert(src, st, pt, reg)
            elif isinstance(a, K):
                self.load_const(a.value, pt, reg)
            else:
                self.expr_as(a, pt, reg)
        self.emit("CALLHOST" if host else "CALL", base, fn_name)
        out = None
        for r in window:
            if rbank is not None and r.bank == rbank and r.n == base:
                continue
            self.regs.free(r)
        if rbank is not None:
            out = Reg(rbank, base, True)
            if dst is not None and dst != out:
                self.move(dst, out)
                self.regs.free(out)
                out = dst
        return out

    def host(self, base: str, args: list, ptypes: list, result: T.Type, dst: Reg | None = None):
        params = "".join(kind_of(t) for t in ptypes)
        name = f"{base}({params}){result_kind(result)}"
        self.mod.asm.host(name, params, result_kind(result))
        return self.call(name, args, ptypes, result, dst, host=True)

    # ------------------------------------------------------------ conversions

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

    def convert(self, src: Reg, st: T.Type, dt: T.Type, dst: Reg) -> Reg:
        """Move `src` (of type `st`) into `dst` as type `dt` (widening, filling a
        maybe, anonymous object -> record/message)."""
        if st == dt or T.is_error(st) or T.is_error(dt):
            if src.bank == dst.bank:
                self.move(dst, src)
                return dst
        if T.is_numeric(st) and T.is_numeric(dt):
            if dt == T.DOUBLE and st != T.DOUBLE:
                self.emit("I2D", dst.n, src.n)
            else:
                self.move(dst, src)
            return dst
        if isinstance(dt, T.MaybeType):
            if isinstance(st, T.MaybeType):
                return self.convert_maybe(src, st, dt, dst)
            inner = dt.inner
            if kind_of(st) == "o" and kind_of(inner) == "o":
                return self.convert(src, st, inner, dst)  # a full maybe is the value itself
            if st == inner or bank_of(st) == bank_of(inner) == "i":
                self.box(src, inner, dst)  # int -> maybe<long>: the same integer, boxed
            else:
                tmp = self.temp(inner)
                self.convert(src, st, inner, tmp)
                self.box(tmp, inner, dst)
                self.free(tmp)
            return dst
        if isinstance(st, T.AnonType) and T.is_struct(dt):
            return self.anon_to_struct(src, st, dt, dst)
        if T.is_sequence(st) and T.is_sequence(dt):
            se, de = T.element_of(st), T.element_of(dt)
            if isinstance(se, T.AnonType) and T.is_struct(de):
                return self.map_sequence(src, lambda r, d: self.anon_to_struct(r, se, de, d), de, dst)
            self.move(dst, src)
            return dst
        if src.bank != dst.bank:
            raise CodegenError(f"internal: cannot convert {st} to {dt}")
        self.move(dst, src)
        return dst

    def convert_maybe(self, src: Reg, st: T.MaybeType, dt: T.MaybeType, dst: Reg) -> Reg:
        si, di = st.inner, dt.inner
        if kind_of(si) == kind_of(di) or (T.is_numeric(si) and T.is_numeric(di) and di != T.DOUBLE):
            if not (isinstance(si, T.AnonType) and T.is_struct(di)):
                self.move(dst, src)
                return dst
        # A full maybe's value is converted; an empty one stays empty.
        out = self.scratch(dst, "o")
        empty, done = self.label(), self.label()
        self.emit("NULLJ", src.n, 1, empty)
        a = self.temp(si)
        self.unbox(src, si, a)
        b = self.temp(di)
        self.convert(a, si, di, b)
        self.box(b, di, out)
        self.free(a, b)
        self.emit("JMP", done)
        self.mark(empty)
        self.emit("ONULL", out.n)
        self.mark(done)
        return self.finish(dst, out)

    # ------------------------------------------------------------ locals

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

    def undeclare(self, node, name: str) -> None:
        reg = self.vars.pop((id(node), name), None)
        if reg is not None:
            self.regs.drop_local(reg)

    def local_type(self, node, name: str, fallback: T.Type | None) -> T.Type | None:
        var = self.types.get((id(node), name))
        return var.type if var is not None else fallback


def generate(compilation):
    """The assembler module of a checked, error-free compilation."""
    from .gen_doc import ModuleGen

    if not compilation.ok or compilation.program is None:
        raise CodegenError("cannot generate code for a document with errors")
    return ModuleGen(compilation).generate()


__all__ = ["CodegenError", "FuncGen", "generate"]
