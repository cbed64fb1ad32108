"""Expressions -> instructions: literals, names, operators, string
concatenation, comparisons and conditions (a stage of code generation, wired
by codegen.py).

`expr(e, dst)` leaves the value of `e` (of type `e.ty`) in a register of its
type's bank: `dst` when given, else a temporary (or, for a local, the local's
own register). A generator writes `dst` only with its last instruction unless
`dst` is a temporary, so `x = x + 1` or `s = "a" + s` read `x`/`s` before they
change. `expr_as(e, t)` also converts to `t`; `cond(e, label, jump_if)` jumps
on a bool without materializing it, using the fused compare-and-branch words.

`expr` hands each node to the stage that translates its class (the table
codegen.py builds from every stage's `g_<Class>` methods): field access,
indexing and literals of structured values to gen_data.py, calls to
gen_call.py, queries to gen_query.py, `++`/`--` to gen_stmt.py.
"""
from __future__ import annotations

from . import ast
from . import library as L
from . import types as T
from .docinfo import Ref
from .ast import LINALG, VIEWER_MESSAGE
from .emitter import CodegenError, Emitter
from .gen_types import VIEWER_KEY, WEB_HEADERS_KEY, WEB_PARAMETERS_KEY, is_intlike, kind_of
from .regalloc import Reg
from ..vm.docslots import CONTEXT, NO_ONE, WHO

FGET = {"i": "FGETI", "d": "FGETD", "o": "FGETO"}
FSET = {"i": "FSETI", "d": "FSETD", "o": "FSETO"}
RGET = {"i": "RGETI", "d": "RGETD", "o": "RGETO"}
RSET = {"i": "RSETI", "d": "RSETD", "o": "RSETO"}

INT_OPS = {"+": "IADD", "-": "ISUB", "*": "IMUL"}
LONG_OPS = {"+": "LADD", "-": "LSUB", "*": "LMUL"}
DOUBLE_OPS = {"+": "DADD", "-": "DSUB", "*": "DMUL"}
INT_K = {"+": "IADDK", "-": "ISUBK", "*": "IMULK"}
LONG_K = {"+": "LADDK", "-": "LSUBK", "*": "LMULK"}
DOUBLE_K = {"+": "DADDK", "-": "DSUBK", "*": "DMULK"}
MIRROR = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "==", "!=": "!="}
SBX_MIN, SBX_MAX = -32767, 32768
SC_MIN, SC_MAX = -127, 128


def int_constant(e) -> int | None:
    """The value of an int/long literal (possibly negated), else None."""
    if isinstance(e, ast.IntLit):
        return e.value
    if isinstance(e, ast.Unary) and e.op == "-" and isinstance(e.operand, ast.IntLit):
        # Negation wraps like the instruction would: -(INT_MIN) is INT_MIN.
        bits = 64 if e.ty == T.LONG or e.operand.is_long else 32
        half = 1 << (bits - 1)
        return ((-e.operand.value + half) % (1 << bits)) - half
    return None


def mod_by_constant(e) -> bool:
    """`x % K` with a nonzero constant K: the maybe it yields is always full."""
    return isinstance(e, ast.Binary) and e.op == "%" and int_constant(e.right) not in (None, 0) \
        and isinstance(e.ty, T.MaybeType)


def plain_type(e) -> T.Type:
    """The type a comparison sees: `x % K` compares as the int it always holds."""
    return e.ty.inner if mod_by_constant(e) else e.ty


class Expressions:
    """What expressions become. Takes the emitter it writes with, the checked
    document and the layout; `connect` hands it the stages it passes
    sub-expressions to."""

    def __init__(self, em: Emitter, info, layout):
        self.em, self.info, self.layout = em, info, layout
        self.at, self.emit, self.label, self.mark = em.at, em.emit, em.label, em.mark
        self.temp, self.free, self.move, self.box = em.temp, em.free, em.move, em.box
        self.target, self.scratch, self.finish = em.target, em.scratch, em.finish
        self.var_reg, self.row_for = em.var_reg, em.row_for
        self.translate: dict = {}  # ast class -> the g_<Class> method of some stage

    def connect(self, translate: dict, data, calls, stmts) -> None:
        self.translate = translate
        self.convert, self.viewer_call = data.convert, data.viewer_call
        self.complex_arith, self.complex_negate = data.complex_arith, data.complex_negate
        self.linalg_arith, self.linalg_negate = data.linalg_arith, data.linalg_negate
        self.imaginary_unit = data.imaginary_unit
        self.call, self.host = calls.call, calls.host
        self.increment = stmts.increment

    # ================================================================ entry points

    def expr(self, e: ast.Expr, dst: Reg | None = None) -> Reg | None:
        saved = self.at(e)
        try:
            return self.translate[type(e)](e, dst)
        finally:
            self.em.pos = saved

    def expr_as(self, e: ast.Expr, want: T.Type, dst: Reg | None = None) -> Reg:
        got = e.ty
        if mod_by_constant(e) and not isinstance(want, T.MaybeType):
            got = e.ty.inner
            if not self.needs_conversion(got, want):
                return self.mod_value(e, dst)
            reg = self.mod_value(e, None)
        elif not self.needs_conversion(got, want):
            return self.expr(e, dst)
        else:
            reg = self.expr(e)
        out = self.target(dst, want)
        self.convert(reg, got, want, out)
        if reg != out:
            self.free(reg)
        return out

    @staticmethod
    def needs_conversion(got: T.Type, want: T.Type) -> bool:
        if got == want or T.is_error(got) or T.is_error(want):
            return False
        if got == T.INT and want == T.LONG:
            return False
        if T.is_sequence(got) and T.is_sequence(want):
            return isinstance(T.element_of(got), T.AnonType) and T.is_struct(T.element_of(want))
        if isinstance(got, T.MaybeType) and isinstance(want, T.MaybeType):
            return kind_of(got.inner) != kind_of(want.inner) or want.inner == T.DOUBLE != got.inner \
                or isinstance(got.inner, T.AnonType)
        return True

    # ================================================================ constants

    def load_int(self, value: int, out: Reg) -> Reg:
        if SBX_MIN <= value <= SBX_MAX:
            self.emit("ILOADI", out.n, value)
        else:
            self.emit("ILOADK", out.n, value)
        return out

    def load_const(self, value, t: T.Type, out: Reg) -> Reg:
        k = kind_of(t)
        if k in ("i", "l", "b"):
            return self.load_int(int(value), out)
        if k == "d":
            self.emit("DLOADK", out.n, float(value))
        elif value is None:
            self.emit("ONULL", out.n)
        else:
            self.emit("OLOADK", out.n, value)
        return out

    def g_IntLit(self, e, dst):
        return self.load_int(e.value, self.target(dst, "i"))

    def g_DoubleLit(self, e, dst):
        out = self.target(dst, "d")
        self.emit("DLOADK", out.n, float(e.value))
        return out

    def g_StringLit(self, e, dst):
        out = self.target(dst, "o")
        self.emit("OLOADK", out.n, e.value)
        return out

    def g_PairLit(self, e, dst):
        """A pair is a two-item list [key, value] of boxed values (as map entries are)."""
        out = self.scratch(dst, "o")
        self.emit("LNEW", out.n)
        for part, t in ((e.key, e.ty.key), (e.value, e.ty.value)):
            v = self.expr_as(part, t)
            if v.bank != "o":
                b = self.temp("o")
                self.box(v, t, b)
                self.emit("LPUSH", out.n, b.n)
                self.free(b)
            else:
                self.emit("LPUSH", out.n, v.n)
            self.free(v)
        return self.finish(dst, out)

    def g_TemporalLit(self, e, dst):
        out = self.target(dst, e.ty)
        if e.kind == "timespan":
            self.emit("DLOADK", out.n, float(e.value))
        else:
            self.emit("OLOADK", out.n, e.value)
        return out

    def g_BoolLit(self, e, dst):
        return self.load_int(1 if e.value else 0, self.target(dst, "i"))

    def g_StateLabel(self, e, dst):
        out = self.target(dst, "o")
        self.emit("OLOADK", out.n, e.name)
        return out

    def g_EnumValue(self, e, dst):
        en = self.info.enums[e.enum]
        if e.value == "*":
            out = self.scratch(dst, "o")
            self.emit("LNEW", out.n)
            tmp = self.temp("o")
            for v in en.values.values():
                self.emit("OLOADK", tmp.n, v)
                self.emit("LPUSH", out.n, tmp.n)
            self.free(tmp)
            return self.finish(dst, out)
        return self.load_int(en.values[e.value], self.target(dst, "i"))

    def g_Special(self, e, dst):
        if e.name == "self":  # the receiver: the first row in scope is the body's own
            reg = next(r for name, r in self.em.rows if name == e.owner)
            out = self.target(dst, "o")
            self.move(out, reg)
            return out
        if e.name == "viewer":  # a document bubble's hidden parameter
            out = self.target(dst, "o")
            self.move(out, self.em.vars[VIEWER_KEY])
            return out
        if e.name in ("parameters", "headers"):  # a @web handler's hidden parameters
            out = self.target(dst, "o")
            self.move(out, self.em.vars[WEB_PARAMETERS_KEY if e.name == "parameters" else WEB_HEADERS_KEY])
            return out
        if e.name == "i":  # the imaginary unit
            return self.imaginary_unit(dst)
        out = self.target(dst, "o")
        if e.name == "null":  # a dynamic holding JSON null, as a dynamic's default does
            self.emit("ONULL", out.n)
            return out
        if e.name == "no_one":
            self.emit("OLOADK", out.n, NO_ONE)
        elif e.name == "who":
            self.emit("FGETO", out.n, WHO)
        else:
            self.emit("FGETO", out.n, CONTEXT)
        return out

    # ================================================================ names

    def g_Name(self, e: ast.Name, dst):
        ref: Ref = e.ref
        kind = ref.kind
        if kind == "local":
            reg = self.var_reg(ref.target)
            if dst is not None and dst != reg:
                self.move(dst, reg)
                return dst
            return reg
        if kind == "field":
            out = self.target(dst, e.ty)
            self.emit(FGET[out.bank], out.n, self.layout.doc_slot(e.id))
            return out
        if kind == "record_field":
            row = self.row_for(ref.owner)
            out = self.target(dst, e.ty)
            self.emit(RGET[out.bank], out.n, row.n, self.layout.field_slot(ref.owner, e.id))
            return out
        if kind in ("formula", "bubble"):
            if ref.owner is not None:
                row = self.row_for(ref.owner)
                fn = self.layout.record_formula_fn(ref.owner, e.id)
                args, types = [(row, T.RecordType(ref.owner))], [T.RecordType(ref.owner)]
            else:
                fn, args, types = self.layout.formula_fn(e.id), [], []
            bubble = kind == "bubble" or (ref.owner is not None and ref.target.viewer)  # a record's: "formula"
            if bubble and VIEWER_MESSAGE in self.info.messages:  # bubbles pass the viewer's state on
                return self.viewer_call(fn, args, types, e.ty, dst)
            return self.call(fn, args, types, e.ty, dst)
        raise CodegenError(f"internal: cannot read name '{e.id}' ({kind})")

    # ================================================================ operators

    def g_Unary(self, e: ast.Unary, dst):
        op = e.op
        if op == "-":
            k = int_constant(e)
            if k is not None:
                return self.load_int(k, self.target(dst, "i"))
            if e.ty == T.COMPLEX:
                return self.complex_negate(e.operand, dst)
            if isinstance(e.ty, T.MessageType) and e.ty.name in LINALG:
                return self.linalg_negate(e.operand, dst)
            src = self.expr(e.operand)
            out = self.target(dst, e.ty)
            neg = {"i": "INEG", "l": "LNEG", "d": "DNEG"}[kind_of(e.ty)]
            self.emit(neg, out.n, src.n)
            self.free(src)
            return out
        if op == "!":
            src = self.expr(e.operand)
            out = self.target(dst, "i")
            self.emit("NOT", out.n, src.n)
            self.free(src)
            return out
        return self.increment(e.operand, +1 if op.startswith("++") else -1, op.endswith("pre"), dst,
                              want=True)

    def g_Binary(self, e: ast.Binary, dst):
        op = e.op
        if op in ("&&", "||", "<", "<=", ">", ">=", "==", "!="):
            return self.bool_value(e, dst)
        if op == "^^":
            a = self.expr(e.left)
            b = self.expr(e.right)
            out = self.target(dst, "i")
            self.emit("INE", out.n, a.n, b.n)
            self.free(a, b)
            return out
        special = e.special
        if special is not None:
            return self.special_binary(e, special, dst)
        if op == "+" and e.ty == T.STRING:
            return self.concat(e, dst)
        if op == "/":
            return self.divide(e, dst)
        if op == "%":
            return self.modulo(e, dst)
        return self.arith(op, e.left, e.right, e.ty, dst)

    def special_binary(self, e: ast.Binary, special: str, dst):
        """The rows of Adama's operator table that are library calls: arithmetic
        lifted over maybe<double>, string repetition, scaling a timespan."""
        if special == "complex":
            return self.complex_arith(e.op, e.left, e.left.ty, e.right, e.right.ty, dst)
        if special == "linalg":
            return self.linalg_arith(e, dst)
        if special == "lift":
            md = T.MaybeType(T.DOUBLE)
            return self.host(f"arith.lift{e.op}", [e.left, e.right], [md, md], md, dst)
        if special == "repeat":
            s, n = (e.left, e.right) if e.left.ty == T.STRING else (e.right, e.left)
            return self.host("string.multiply/1", [s, n], [T.STRING, T.INT], T.STRING, dst)
        span, k = (e.left, e.right) if e.left.ty == T.TIMESPAN else (e.right, e.left)
        return self.host("TimeSpan.multiply/2", [span, k], [T.TIMESPAN, T.DOUBLE], T.TIMESPAN, dst)

    def arith(self, op: str, left, right, t: T.Type, dst):
        """`left op right` in type t (int, long, double, timespan)."""
        k = kind_of(t)
        rk = int_constant(right) if isinstance(right, ast.Expr) else None
        a = self.expr_as(left, t) if isinstance(left, ast.Expr) else left
        if k in ("i", "l") and rk is not None:
            out = self.target(dst, t)
            if op in ("+", "-") and SC_MIN <= (rk if op == "+" else -rk) <= SC_MAX:
                self.emit("LADDI" if k == "l" else "IADDI", out.n, a.n, rk if op == "+" else -rk)
            else:
                self.emit((LONG_K if k == "l" else INT_K)[op], out.n, a.n, rk)
            if isinstance(left, ast.Expr):
                self.free(a)
            return out
        if k == "d" and isinstance(right, (ast.DoubleLit, ast.IntLit)):
            out = self.target(dst, t)
            self.emit(DOUBLE_K[op], out.n, a.n, float(right.value))
            if isinstance(left, ast.Expr):
                self.free(a)
            return out
        b = self.expr_as(right, t) if isinstance(right, ast.Expr) else right
        out = self.target(dst, t)
        table = {"i": INT_OPS, "l": LONG_OPS, "d": DOUBLE_OPS}[k]
        self.emit(table[op], out.n, a.n, b.n)
        if isinstance(left, ast.Expr):
            self.free(a)
        if isinstance(right, ast.Expr):
            self.free(b)
        return out

    def divide(self, e: ast.Binary, dst):
        a = self.expr_as(e.left, T.DOUBLE)
        b = self.expr_as(e.right, T.DOUBLE)
        q = self.temp("d")
        out = self.target(dst, "o")
        zero, done = self.label(), self.label()
        self.emit("DDIV", q.n, a.n, b.n, zero)
        self.emit("DBOX", out.n, q.n)
        self.emit("JMP", done)
        self.mark(zero)
        self.emit("ONULL", out.n)
        self.mark(done)
        self.free(a, b, q)
        return out

    def mod_value(self, e: ast.Binary, dst):
        """`x % K` (K a nonzero constant) as a plain int/long."""
        t = e.ty.inner
        a = self.expr_as(e.left, t)
        out = self.target(dst, t)
        self.emit("LMODK" if t == T.LONG else "IMODK", out.n, a.n, int_constant(e.right))
        self.free(a)
        return out

    def modulo(self, e: ast.Binary, dst):
        t = e.ty.inner
        if mod_by_constant(e):
            r = self.mod_value(e, None)
            out = self.target(dst, "o")
            self.emit("IBOX", out.n, r.n)
            self.free(r)
            return out
        a = self.expr_as(e.left, t)
        b = self.expr_as(e.right, t)
        r = self.temp("i")
        out = self.target(dst, "o")
        zero, done = self.label(), self.label()
        self.emit("LMOD" if t == T.LONG else "IMOD", r.n, a.n, b.n, zero)
        self.emit("IBOX", out.n, r.n)
        self.emit("JMP", done)
        self.mark(zero)
        self.emit("ONULL", out.n)
        self.mark(done)
        self.free(a, b, r)
        return out

    # ---------------------------------------------------------------- strings

    def text(self, e: ast.Expr) -> Reg:
        """The text form of a value for concatenation (spec/language.md 5.6)."""
        t = plain_type(e)
        if t == T.STRING:
            return self.expr(e)
        if kind_of(t) in ("i", "l", "b", "d") and not isinstance(t, T.EnumType):
            src = self.expr_as(e, t) if mod_by_constant(e) else self.expr(e)
            out = self.temp("o")
            op = {"i": "ITOS", "l": "ITOS", "b": "BTOS", "d": "DTOS"}[kind_of(t)]
            self.emit(op, out.n, src.n)
            self.free(src)
            return out
        if isinstance(t, T.EnumType):
            src = self.expr(e)
            key = self.temp("o")
            self.emit("IBOX", key.n, src.n)
            self.free(src)
            names = self.temp("o")
            self.emit("OLOADK", names.n, self.layout.enum_names(t.name))
            out = self.temp("o")
            self.emit("MGET", out.n, names.n, key.n)
            self.free(key, names)
            return out
        if t == T.PRINCIPAL:
            return self.host("text.agent", [e], [T.PRINCIPAL], T.STRING)
        if t == T.DYNAMIC:
            return self.host("text.json", [e], [T.DYNAMIC], T.STRING)
        return self.expr(e)  # dates, times, labels: already their ISO text

    def concat(self, e: ast.Binary, dst):
        parts = []

        def flatten(x):
            if isinstance(x, ast.Binary) and x.op == "+" and x.ty == T.STRING:
                flatten(x.left)
                flatten(x.right)
            else:
                parts.append(x)

        flatten(e)
        out = self.scratch(dst, "o")
        first = self.text(parts[0])
        self.move(out, first)
        self.free(first)
        for p in parts[1:]:
            saved = self.at(p)
            piece = self.text(p)
            self.emit("SCAT", out.n, out.n, piece.n)
            self.free(piece)
            self.em.pos = saved
        return self.finish(dst, out)

    # ---------------------------------------------------------------- comparisons

    def bool_value(self, e, dst):
        out = self.target(dst, "i")
        if e.op in ("==", "!=", "<", "<=", ">", ">=") and self.compare_kind(e) == "o":
            return self.object_compare(e, out)
        false, done = self.label(), self.label()
        self.cond(e, false, False)
        self.emit("ILOADI", out.n, 1)
        self.emit("JMP", done)
        self.mark(false)
        self.emit("ILOADI", out.n, 0)
        self.mark(done)
        return out

    def compare_type(self, e: ast.Binary) -> T.Type:
        lt, rt = plain_type(e.left), plain_type(e.right)
        if T.is_numeric(lt) and T.is_numeric(rt):
            return T.wider(lt, rt)
        return lt

    def compare_kind(self, e: ast.Binary) -> str:
        """'i' or 'd' when the comparison runs on typed registers, else 'o'."""
        lt, rt = plain_type(e.left), plain_type(e.right)
        if T.is_numeric(lt) and T.is_numeric(rt):
            return "d" if T.DOUBLE in (lt, rt) else "i"
        if is_intlike(lt) and lt == rt:
            return "i"
        return "o"

    def operand(self, e, t: T.Type) -> Reg:
        if mod_by_constant(e):
            r = self.mod_value(e, None)
            if t == T.DOUBLE:
                d = self.temp("d")
                self.emit("I2D", d.n, r.n)
                self.free(r)
                return d
            return r
        return self.expr_as(e, t)

    def cond(self, e: ast.Expr, label, jump_if: bool) -> None:
        """Jump to `label` when `e` (a bool) equals `jump_if`; fall through otherwise."""
        saved = self.at(e)
        try:
            self._cond(e, label, jump_if)
        finally:
            self.em.pos = saved

    def _cond(self, e, label, jump_if: bool) -> None:
        if isinstance(e, ast.BoolLit):
            if e.value == jump_if:
                self.emit("JMP", label)
            return
        if isinstance(e, ast.Unary) and e.op == "!":
            self.cond(e.operand, label, not jump_if)
            return
        if isinstance(e, ast.Binary) and e.op in ("&&", "||"):
            # && jumps on false as soon as one side is false; || on true.
            short = e.op == "||"
            if jump_if == short:
                self.cond(e.left, label, jump_if)
                self.cond(e.right, label, jump_if)
            else:
                skip = self.label()
                self.cond(e.left, skip, short)
                self.cond(e.right, label, jump_if)
                self.mark(skip)
            return
        if isinstance(e, ast.Binary) and e.op in MIRROR:
            if self.compare_kind(e) != "o":
                self.compare_jump(e, label, jump_if)
                return
            if e.op in ("==", "!="):
                hit = self.object_compare(e, self.temp("i"), negate=False)
                self.emit("TESTJ", hit.n, int(jump_if != (e.op == "!=")), label)
                self.free(hit)
                return
        if isinstance(e, ast.Call) and isinstance(e.ref, L.LibEntry) and e.ref.key == "maybe.has/0":
            m = self.expr(e.func.obj)
            self.emit("NULLJ", m.n, 0 if jump_if else 1, label)
            self.free(m)
            return
        reg = self.expr(e)
        self.emit("TESTJ", reg.n, 1 if jump_if else 0, label)
        self.free(reg)

    def compare_jump(self, e: ast.Binary, label, jump_if: bool) -> None:
        op = e.op
        t = self.compare_type(e)
        kind = self.compare_kind(e)
        left, right = e.left, e.right
        if kind == "i":
            kl, kr = int_constant(left), int_constant(right)
            if kl is not None and kr is None:
                left, right, op = right, left, MIRROR[op]
                kr = kl
            if kr is not None:
                a = self.operand(left, t)
                negate = op == "!="
                name = {"<": "ILTJK", "<=": "ILEJK", ">": "IGTJK", ">=": "IGEJK", "==": "IEQJK",
                        "!=": "IEQJK"}[op]
                self.emit(name, a.n, kr, int(jump_if != negate), label)
                self.free(a)
                return
        a = self.operand(left, t)
        b = self.operand(right, t)
        prefix = "I" if kind == "i" else "D"
        if op in (">", ">="):
            a, b = b, a
            op = "<" if op == ">" else "<="
        negate = op == "!="
        name = prefix + {"<": "LTJ", "<=": "LEJ", "==": "EQJ", "!=": "EQJ"}[op]
        self.emit(name, a.n, b.n, int(jump_if != negate), label)
        self.free(a, b)

    def object_compare(self, e: ast.Binary, out: Reg, negate: bool = True) -> Reg:
        """Comparisons on the object bank: strings and dates order by code point;
        equality is value equality (maybes against values included)."""
        lt, rt = e.left.ty, e.right.ty
        op = e.op
        if op in ("<", "<=", ">", ">="):
            a, b = self.expr(e.left), self.expr(e.right)
            if op in (">", ">="):
                a, b = b, a
            self.emit("SLT" if op in ("<", ">") else "SLE", out.n, a.n, b.n)
            self.free(a, b)
            return out
        # Bring a plain value to the other side's maybe type so both are boxes.
        if isinstance(lt, T.MaybeType) and not isinstance(rt, T.MaybeType):
            want = lt
        elif isinstance(rt, T.MaybeType) and not isinstance(lt, T.MaybeType):
            want = rt
        elif T.COMPLEX in (lt, rt) and lt != rt:
            want = T.COMPLEX  # a number compared with a complex is x + 0 * @i
        else:
            want = None
        a = self.expr_as(e.left, want) if want is not None else self.expr(e.left)
        b = self.expr_as(e.right, want) if want is not None else self.expr(e.right)
        inner = T.strip_maybe(want or lt)
        if inner == T.DOUBLE or isinstance(inner, (T.MessageType, T.MapType, T.AnonType)) \
                or inner == T.DYNAMIC or T.is_sequence(inner):
            r = self.host("value.eq", [(a, T.DYNAMIC), (b, T.DYNAMIC)], [T.DYNAMIC, T.DYNAMIC], T.BOOL)
            self.move(out, r)
            self.free(r)
        else:
            self.emit("OEQ", out.n, a.n, b.n)
        if op == "!=" and negate:
            self.emit("NOT", out.n, out.n)
        self.free(a, b)
        return out

    def g_Ternary(self, e: ast.Ternary, dst):
        out = self.target(dst, e.ty)
        other, done = self.label(), self.label()
        self.cond(e.cond, other, False)
        self.expr_as(e.then, e.ty, out)
        self.emit("JMP", done)
        self.mark(other)
        self.expr_as(e.otherwise, e.ty, out)
        self.mark(done)
        return out
