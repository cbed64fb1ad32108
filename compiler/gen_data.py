"""Structured values -> instructions (a stage of code generation, wired by
codegen.py): field access and projection, indexing, records and messages
being built (anonymous objects, @convert, ingestion copies), array literals,
maybes, the loop that maps one list to another, and the conversion of a value
to the type it is used as (widening, filling a maybe, anonymous object ->
record or message).
"""
from __future__ import annotations

from . import ast
from . import types as T
from .emitter import CodegenError, Emitter, K
from .gen_expr import RGET, RSET
from .ast import LINALG, VIEWER_MESSAGE
from .gen_types import VIEWER_KEY, bank_of, kind_of
from .regalloc import Reg


class Data:
    """What structured values become. Takes the emitter, the checked document
    and the layout; `connect` hands it the stages it needs."""

    def __init__(self, em: Emitter, info, layout):
        self.em, self.info, self.layout = em, info, layout
        self.emit, self.label, self.mark = em.emit, em.label, em.mark
        self.temp, self.free, self.move, self.box, self.unbox = em.temp, em.free, em.move, em.box, em.unbox
        self.target, self.scratch, self.finish = em.target, em.scratch, em.finish

    def connect(self, exprs, calls) -> None:
        self.expr, self.expr_as = exprs.expr, exprs.expr_as
        self.call, self.host = calls.call, calls.host

    # ================================================================ members

    def g_FieldAccess(self, e: ast.FieldAccess, dst):
        ot = e.obj.ty
        if isinstance(ot, T.PairType):  # a map entry: kv.key, kv.value
            return self.host(f"pair.{e.name}", [e.obj], [ot], e.ty, dst)
        if isinstance(ot, T.LibraryType):  # a namespace constant: Math.PI
            out = self.target(dst, e.ty)
            self.emit("DLOADK", out.n, float(e.constant))
            return out
        if isinstance(ot, (T.RecordType, T.MessageType)):
            s = self.info.struct(ot.name)
            obj = self.expr(e.obj)
            if e.name in s.fields:
                out = self.target(dst, e.ty)
                self.emit(RGET[out.bank], out.n, obj.n, self.layout.field_slot(ot.name, e.name))
                self.free(obj)
                return out
            fn = self.layout.record_formula_fn(ot.name, e.name)
            if self.takes_viewer(s, e.name):
                r = self.viewer_call(fn, [(obj, ot)], [ot], e.ty, dst)
            else:
                r = self.call(fn, [(obj, ot)], [ot], e.ty, dst)
            self.free(obj)
            return r
        if T.is_sequence(ot):
            el = T.element_of(ot)
            s = self.info.struct(el.name)
            if e.name in s.fields:
                return self.host("seq.project", [e.obj, K(self.layout.field_slot(el.name, e.name), T.INT)],
                                 [ot, T.INT], e.ty, dst)
            fn = self.layout.record_formula_fn(el.name, e.name)
            call = self.viewer_call if self.takes_viewer(s, e.name) else self.call
            return self.map_sequence(self.expr(e.obj),
                                     lambda r, d: call(fn, [(r, el)], [el], e.ty.element, d),
                                     e.ty.element, dst, src_type=ot)
        if ot == T.CONTEXT:
            obj = self.expr(e.obj)
            key = self.temp("o")
            out = self.target(dst, "o")
            none, done = self.label(), self.label()
            self.emit("NULLJ", obj.n, 1, none)  # no connection context (a test's send): ""
            self.emit("OLOADK", key.n, e.name)
            self.emit("MGET", out.n, obj.n, key.n)
            self.emit("JMP", done)
            self.mark(none)
            self.emit("OLOADK", out.n, "")
            self.mark(done)
            self.free(obj, key)
            return out
        if isinstance(ot, T.AnonType):  # an object of no declared type (a tuple): a map of boxed values
            obj = self.expr(e.obj)
            key = self.temp("o")
            box = self.temp("o")
            self.emit("OLOADK", key.n, e.name)
            self.emit("MGET", box.n, obj.n, key.n)
            out = self.target(dst, e.ty)
            self.unbox(box, e.ty, out)
            self.free(obj, key, box)
            return out
        raise CodegenError(f"internal: field access on {ot}")

    def g_Index(self, e: ast.Index, dst):
        ot = e.obj.ty
        obj = self.expr(e.obj)
        if T.is_sequence(ot):
            i = self.expr_as(e.index, T.INT)
            out = self.target(dst, "o")
            self.emit("LGET", out.n, obj.n, i.n)
            self.free(obj, i)
            return out
        key = self.boxed(e.index, ot.key)
        out = self.target(dst, "o")
        self.emit("MGET", out.n, obj.n, key.n)
        self.free(obj, key)
        if e.index2 is not None:  # a grid's cell: empty when its row is (language.md 3.6.1)
            done = self.label()
            self.emit("NULLJ", out.n, 1, done)
            key2 = self.boxed(e.index2, ot.value.key)
            self.emit("MGET", out.n, out.n, key2.n)
            self.free(key2)
            self.mark(done)
        return out

    def boxed(self, e: ast.Expr, t: T.Type) -> Reg:
        """The value of `e` as type `t`, in the object bank (map keys, list items)."""
        if kind_of(t) == "o":
            return self.expr_as(e, t)
        r = self.expr_as(e, t)
        out = self.temp("o")
        self.box(r, t, out)
        self.free(r)
        return out

    def map_sequence(self, src: Reg, each, el_type: T.Type, dst, src_type=None):
        """A new list made of `each(item_reg, out_reg)` for every item of list `src`
        (items are taken as objects: records, messages, anonymous objects)."""
        out = self.scratch(dst, "o")
        self.emit("LNEW", out.n)
        n, i = self.temp("i"), self.temp("i")
        item = self.temp("o")
        top, done = self.label(), self.label()
        self.emit("LLEN", n.n, src.n)
        self.emit("ILOADI", i.n, 0)
        self.emit("ILEJK", n.n, 0, 1, done)
        self.mark(top)
        self.emit("LGET", item.n, src.n, i.n)
        val = self.temp(el_type)
        each(item, val)
        if kind_of(el_type) != "o":
            b = self.temp("o")
            self.box(val, el_type, b)
            self.emit("LPUSH", out.n, b.n)
            self.free(b)
        else:
            self.emit("LPUSH", out.n, val.n)
        self.free(val)
        self.emit("IFORLT", i.n, n.n, 1, top)
        self.mark(done)
        self.free(n, i, item, src)
        return self.finish(dst, out)

    # ================================================================ conversions

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
        if dt == T.TEXT and st == T.STRING:  # a text set from a string (3.13.1)
            return self.host("text.of/1", [(src, T.STRING)], [T.STRING], T.TEXT, dst)
        if dt == T.COMPLEX and T.is_numeric(st):  # x is x + 0 * @i
            re, im = self.complex_parts(src, st)
            self.make_complex(re, im, dst)
            self.free(re, im)
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

    # ================================================================ constructors

    # ================================================================ complex numbers (language.md 3.12)

    def complex_parts(self, x, t: T.Type) -> tuple[Reg, Reg]:
        """New double registers with the real and imaginary parts of `x` (an
        expression, or a register of type `t`): a complex's two fields, or a
        number and 0."""
        re, im = self.temp("d"), self.temp("d")
        if t == T.COMPLEX:
            z = self.expr(x) if isinstance(x, ast.Expr) else x
            self.emit("RGETD", re.n, z.n, self.layout.field_slot(T.COMPLEX.name, "r"))
            self.emit("RGETD", im.n, z.n, self.layout.field_slot(T.COMPLEX.name, "i"))
            if isinstance(x, ast.Expr):
                self.free(z)
            return re, im
        if isinstance(x, ast.Expr):
            self.expr_as(x, T.DOUBLE, re)
        else:
            self.convert(x, t, T.DOUBLE, re)
        self.emit("DLOADK", im.n, 0.0)
        return re, im

    def make_complex(self, re: Reg, im: Reg, out: Reg) -> Reg:
        """A new complex of two double registers, in `out`."""
        self.new_struct(T.COMPLEX.name, out)
        self.emit("RSETD", out.n, self.layout.field_slot(T.COMPLEX.name, "r"), re.n)
        self.emit("RSETD", out.n, self.layout.field_slot(T.COMPLEX.name, "i"), im.n)
        return out

    def complex_arith(self, op: str, left, lt: T.Type, right, rt: T.Type, dst):
        """`left op right` with a complex side (each an expression, or a
        register of the type given): + - * a complex; / a maybe, empty when
        the divisor is 0."""
        ar, ai = self.complex_parts(left, lt)
        br, bi = self.complex_parts(right, rt)
        re, im = self.temp("d"), self.temp("d")
        out = self.scratch(dst, "o")
        if op in ("+", "-"):
            code = "DADD" if op == "+" else "DSUB"
            self.emit(code, re.n, ar.n, br.n)
            self.emit(code, im.n, ai.n, bi.n)
            self.make_complex(re, im, out)
        elif op == "*":
            t = self.temp("d")
            self.emit("DMUL", re.n, ar.n, br.n)
            self.emit("DMUL", t.n, ai.n, bi.n)
            self.emit("DSUB", re.n, re.n, t.n)
            self.emit("DMUL", im.n, ar.n, bi.n)
            self.emit("DMUL", t.n, ai.n, br.n)
            self.emit("DADD", im.n, im.n, t.n)
            self.free(t)
            self.make_complex(re, im, out)
        else:
            # (ar + ai i) / (br + bi i) = ((ar br + ai bi) + (ai br - ar bi) i) / (br^2 + bi^2)
            den, t = self.temp("d"), self.temp("d")
            self.emit("DMUL", den.n, br.n, br.n)
            self.emit("DMUL", t.n, bi.n, bi.n)
            self.emit("DADD", den.n, den.n, t.n)
            nr, ni = self.temp("d"), self.temp("d")
            self.emit("DMUL", nr.n, ar.n, br.n)
            self.emit("DMUL", t.n, ai.n, bi.n)
            self.emit("DADD", nr.n, nr.n, t.n)
            self.emit("DMUL", ni.n, ai.n, br.n)
            self.emit("DMUL", t.n, ar.n, bi.n)
            self.emit("DSUB", ni.n, ni.n, t.n)
            zero, done = self.label(), self.label()
            self.emit("DDIV", re.n, nr.n, den.n, zero)
            self.emit("DDIV", im.n, ni.n, den.n, zero)
            self.make_complex(re, im, out)
            self.emit("JMP", done)
            self.mark(zero)
            self.emit("ONULL", out.n)
            self.mark(done)
            self.free(den, t, nr, ni)
        self.free(ar, ai, br, bi, re, im)
        return self.finish(dst, out)

    # ------------------------------------------------------------ vectors and matrices (3.12.1)

    def _linalg_get(self, obj: Reg, name: str, field: str) -> Reg:
        r = self.temp("d")
        self.emit("RGETD", r.n, obj.n, self.layout.field_slot(name, field))
        return r

    def linalg_arith(self, e: ast.Binary, dst) -> Reg:
        """`+ - *` of vectors and matrices, unrolled over their fields: the sum or difference field
        by field, scaling by a number, and the matrix products (row by column)."""
        lt, rt, op, name = e.left.ty, e.right.ty, e.op, e.ty.name
        lvec = isinstance(lt, T.MessageType) and lt.name in LINALG
        rvec = isinstance(rt, T.MessageType) and rt.name in LINALG
        out = self.scratch(dst, "o")
        fields = LINALG[name]
        if lvec and rvec and op in ("+", "-"):
            a, b = self.expr(e.left), self.expr(e.right)
            self.new_struct(name, out)
            for f in fields:
                x, y = self._linalg_get(a, name, f), self._linalg_get(b, name, f)
                self.emit("DADD" if op == "+" else "DSUB", x.n, x.n, y.n)
                self.emit("RSETD", out.n, self.layout.field_slot(name, f), x.n)
                self.free(x, y)
            self.free(a, b)
        elif not (lvec and rvec):  # scaled by a number
            obj_e, k_e = (e.left, e.right) if lvec else (e.right, e.left)
            a = self.expr(obj_e)
            k = self.expr_as(k_e, T.DOUBLE)
            self.new_struct(name, out)
            for f in fields:
                x = self._linalg_get(a, name, f)
                self.emit("DMUL", x.n, x.n, k.n)
                self.emit("RSETD", out.n, self.layout.field_slot(name, f), x.n)
                self.free(x)
            self.free(a, k)
        else:  # matrix * vector, matrix * matrix
            a, b = self.expr(e.left), self.expr(e.right)
            n = int(lt.name[6:])
            vec = rt.name.startswith("vec")
            self.new_struct(name, out)
            acc, t = self.temp("d"), self.temp("d")
            for r in range(n):
                for c in range(1 if vec else n):
                    self.emit("DLOADK", acc.n, 0.0)
                    for k in range(n):
                        x = self._linalg_get(a, lt.name, f"m{r}{k}")
                        y = self._linalg_get(b, rt.name, LINALG[rt.name][k] if vec else f"m{k}{c}")
                        self.emit("DMUL", t.n, x.n, y.n)
                        self.emit("DADD", acc.n, acc.n, t.n)
                        self.free(x, y)
                    self.emit("RSETD", out.n, self.layout.field_slot(name, fields[r] if vec else f"m{r}{c}"), acc.n)
            self.free(acc, t, a, b)
        return self.finish(dst, out)

    def linalg_negate(self, operand: ast.Expr, dst) -> Reg:
        name = operand.ty.name
        a = self.expr(operand)
        out = self.scratch(dst, "o")
        self.new_struct(name, out)
        for f in LINALG[name]:
            x = self._linalg_get(a, name, f)
            self.emit("DNEG", x.n, x.n)
            self.emit("RSETD", out.n, self.layout.field_slot(name, f), x.n)
            self.free(x)
        self.free(a)
        return self.finish(dst, out)

    def complex_negate(self, operand: ast.Expr, dst) -> Reg:
        re, im = self.complex_parts(operand, T.COMPLEX)
        self.emit("DNEG", re.n, re.n)
        self.emit("DNEG", im.n, im.n)
        out = self.make_complex(re, im, self.scratch(dst, "o"))
        self.free(re, im)
        return self.finish(dst, out)

    def imaginary_unit(self, dst) -> Reg:
        re, im = self.temp("d"), self.temp("d")
        self.emit("DLOADK", re.n, 0.0)
        self.emit("DLOADK", im.n, 1.0)
        out = self.make_complex(re, im, self.scratch(dst, "o"))
        self.free(re, im)
        return self.finish(dst, out)

    def takes_viewer(self, s, name: str) -> bool:
        """Whether record formula `name` of struct `s` is a bubble that takes the viewer's state."""
        fo = s.formulas.get(name)
        return fo is not None and fo.viewer

    def viewer_call(self, fn: str, args: list, types: list, result: T.Type, dst):
        """Call a bubble with the viewer's state as its last argument: this
        body's own (a bubble's hidden parameter), else (code that is no bubble
        reading one) the defaults of the `view` declarations (language.md 4.9.1)."""
        vt = T.MessageType(VIEWER_MESSAGE)
        if VIEWER_KEY in self.em.vars:
            return self.call(fn, args + [(self.em.vars[VIEWER_KEY], vt)], types + [vt], result, dst)
        state = self.new_struct(VIEWER_MESSAGE, self.temp("o"))
        out = self.call(fn, args + [(state, vt)], types + [vt], result, dst)
        self.free(state)
        return out

    def new_struct(self, name: str, out: Reg) -> Reg:
        ctor = self.layout.constructor(name)
        if ctor is not None:
            return self.call(ctor, [], [], T.MessageType(name), out)
        self.emit("RNEW", out.n, self.layout.layout_name(name))
        return out

    def set_fresh(self, obj: Reg, struct: str, field: str, value: ast.Expr | tuple) -> None:
        """Initialise a field of a record or message being built (not yet shared,
        so not logged)."""
        s = self.info.struct(struct)
        ft = s.fields[field].type
        slot = self.layout.field_slot(struct, field)
        if isinstance(value, tuple):
            src, st = value
            r = self.temp(ft)
            self.convert(src, st, ft, r)
        else:
            r = self.expr_as(value, ft)
        self.emit(RSET[r.bank], obj.n, slot, r.n)
        self.free(r)

    def g_AnonObject(self, e: ast.AnonObject, dst):
        t = e.ty
        out = self.scratch(dst, "o")
        if isinstance(t, (T.RecordType, T.MessageType)):
            self.new_struct(t.name, out)
            for af in e.fields:
                self.set_fresh(out, t.name, af.name, af.value)
            return self.finish(dst, out)
        self.emit("MNEW", out.n)
        key = self.temp("o")
        for af in e.fields:
            v = self.boxed(af.value, af.value.ty)
            self.emit("OLOADK", key.n, af.name)
            self.emit("MPUT", out.n, key.n, v.n)
            self.free(v)
        self.free(key)
        return self.finish(dst, out)

    def anon_to_struct(self, src: Reg, st: T.AnonType, dt: T.Type, dst: Reg) -> Reg:
        out = self.scratch(dst, "o")
        self.new_struct(dt.name, out)
        key = self.temp("o")
        box = self.temp("o")
        for name, ft in st.fields:
            self.emit("OLOADK", key.n, name)
            self.emit("MGET", box.n, src.n, key.n)
            v = self.temp(ft)
            self.unbox(box, ft, v)
            self.set_fresh(out, dt.name, name, (v, ft))
            self.free(v)
        self.free(key, box)
        return self.finish(dst, out)

    def copy_struct(self, src: Reg, st: T.Type, dt: T.Type, dst: Reg, skip_id: bool = False) -> Reg:
        """A new `dt` with the fields of `src` (a record, message or anonymous
        object) that `dt` has, converted (ingestion, @convert)."""
        if isinstance(st, T.AnonType):
            return self.anon_to_struct(src, st, dt, dst)
        out = self.scratch(dst, "o")
        self.new_struct(dt.name, out)
        ss, ds = self.info.struct(st.name), self.info.struct(dt.name)
        for name, f in ss.fields.items():
            if name not in ds.fields or (skip_id and name == "id"):
                continue
            v = self.temp(f.type)
            self.emit(RGET[v.bank], v.n, src.n, self.layout.field_slot(st.name, name))
            self.set_fresh(out, dt.name, name, (v, f.type))
            self.free(v)
        return self.finish(dst, out)

    def g_ArrayLit(self, e: ast.ArrayLit, dst):
        el = T.element_of(e.ty)
        out = self.scratch(dst, "o")
        self.emit("LNEW", out.n)
        for item in e.items:
            v = self.boxed(item, el)
            self.emit("LPUSH", out.n, v.n)
            self.free(v)
        return self.finish(dst, out)

    def g_MaybeOf(self, e: ast.MaybeOf, dst):
        if e.value is None:
            out = self.target(dst, "o")
            self.emit("ONULL", out.n)
            return out
        return self.expr_as(e.value, e.ty, dst)

    def g_Convert(self, e: ast.Convert, dst):
        st, dt = e.value.ty, e.ty
        if isinstance(dt, T.ArrayType):
            el_src, el_dst = T.element_of(st), dt.element
            src = self.expr(e.value)
            return self.map_sequence(src, lambda r, d: self.copy_struct(r, el_src, el_dst, d), el_dst, dst)
        if isinstance(e.value, ast.AnonObject):
            return self.expr(e.value, dst)
        src = self.expr(e.value)
        out = self.copy_struct(src, st, dt, self.target(dst, "o"))
        self.free(src)
        return out
