"""Statements -> instructions (a stage of code generation, wired by codegen.py).

Assignment targets are `LValue`s: a local register, a document field, a field
of a record or message, or a map entry; each knows how to read and write
itself. Writes into records, messages and maps use the machine's logged
opcodes (RSET*L, MPUTL) because a value reached by a reference may be document
state; only records being built (not yet shared) are written with plain RSET.
A field a table indexes is written by the host function `table.set_indexed`,
which keeps the index right. Document fields use FSET, which the machine logs.
"""
from __future__ import annotations

from . import ast
from . import types as T
from .emitter import CodegenError, Emitter, K
from .gen_expr import FGET, FSET, RGET, int_constant, mod_by_constant, plain_type
from .gen_types import constant_default, kind_of
from .regalloc import Reg
from ..vm.docslots import BLOCK_KIND, DEBUG, INVOKING, NEXT, NEXT_IN, PREEMPT_KEY

RSETL = {"i": "RSETIL", "d": "RSETDL", "o": "RSETOL"}
ABORTS_MISSED = "the block of @aborts ended without aborting"  # the failure of such a test
RETURN = {"i": "IRET", "l": "IRET", "b": "IRET", "d": "DRET", "o": "ORET"}


def needs_copy(t: T.Type) -> bool:
    """Values that document state must hold as copies, not references."""
    t = T.strip_maybe(t)
    if T.is_sequence(t):
        t = T.element_of(t)
    return isinstance(t, (T.RecordType, T.MessageType, T.MapType))


def fresh(e: ast.Expr) -> bool:
    """An expression that builds a new value nobody else holds."""
    if isinstance(e, (ast.AnonObject, ast.Convert, ast.ArrayLit)):
        return True
    if isinstance(e, ast.MaybeOf):
        return e.value is None or fresh(e.value)
    return False


class LValue:
    """An assignment target (Statements.lvalue makes one; `load`, `store` and
    `release` use it)."""

    __slots__ = ("kind", "type", "reg", "slot", "struct", "key", "indexed")

    def __init__(self, kind: str, t: T.Type, reg: Reg | None = None, slot: int = -1,
                 struct: str | None = None, key: Reg | None = None, indexed: bool = False):
        self.kind = kind  # 'local' | 'field' | 'rfield' | 'map'
        self.type = t
        self.reg = reg  # the local; the record; the map
        self.slot = slot
        self.struct = struct
        self.key = key  # boxed map key
        self.indexed = indexed


class Statements:
    """What statements and assignments become. Takes the emitter, the checked
    document and the layout; `connect` hands it the stages it passes
    expressions, calls and loops over sequences to."""

    def __init__(self, em: Emitter, info, layout):
        self.em, self.info, self.layout = em, info, layout
        self.at, self.emit, self.label, self.mark = em.at, em.emit, em.label, em.mark
        self.temp, self.free, self.move, self.box, self.unbox = em.temp, em.free, em.move, em.box, em.unbox
        self.target, self.finish, self.row_for = em.target, em.finish, em.row_for
        self.var_reg, self.declare, self.local_type = em.var_reg, em.declare, em.local_type
        self.push_scope, self.pop_scope = em.push_scope, em.pop_scope
        # ast class -> the s_<Class> method that writes it
        self.statements = {getattr(ast, name[2:]): getattr(self, name) for name in dir(type(self))
                           if name.startswith("s_")}

    def connect(self, exprs, data, calls, queries) -> None:
        self.expr, self.expr_as, self.cond, self.load_const = exprs.expr, exprs.expr_as, exprs.cond, exprs.load_const
        self.text, self.arith, self.mod_value = exprs.text, exprs.arith, exprs.mod_value
        self.boxed, self.new_struct, self.copy_struct = data.boxed, data.new_struct, data.copy_struct
        self.complex_arith = data.complex_arith
        self.convert = data.convert  # ingestion (language.md 6.3)
        self.call, self.host = calls.call, calls.host
        self.foreach_where, self.each_item = queries.foreach_where, queries.each_item

    # ================================================================ blocks

    def function_body(self, block: ast.Block) -> None:
        self.block(block)
        if self.em.result == T.VOID:
            self.emit("RET")
        else:
            # Reached only if the checker's every-path-returns rule was bypassed.
            self.emit("FAIL", f"{self.em.name} ended without returning a value")

    def block(self, b: ast.Block) -> None:
        self.push_scope()
        for s in b.body:
            self.stmt(s)
        self.pop_scope()

    def stmt(self, s: ast.Stmt) -> None:
        saved = self.at(s)
        try:
            self.statements[type(s)](s)
        finally:
            self.em.pos = saved

    def s_Block(self, s: ast.Block) -> None:
        self.block(s)

    # ================================================================ locals

    def default_value(self, t: T.Type, out: Reg) -> Reg:
        ok, value = constant_default(t, self.info)
        if ok:
            if isinstance(value, list):
                self.emit("LNEW", out.n)
            elif isinstance(value, dict):
                self.emit("MNEW", out.n)
            else:
                self.load_const(value, t, out)
            return out
        if isinstance(t, (T.RecordType, T.MessageType)):
            return self.new_struct(t.name, out)
        if isinstance(t, T.TableType):
            return self.host("table.new", [K(self.layout.table_spec(t.record.name), T.DYNAMIC)],
                             [T.DYNAMIC], t, out)
        raise CodegenError(f"internal: no default for {t}")

    def s_VarDecl(self, s: ast.VarDecl) -> None:
        t = self.local_type(s, s.name, None)
        if t is None:  # never read or written again: only the value's effects matter
            if s.value is not None:
                self.free(self.expr(s.value))
            return
        reg = self.declare(s, s.name, t)
        if s.value is not None:
            self.expr_as(s.value, t, reg)
        else:
            self.default_value(t, reg)

    # ================================================================ assignment

    def lvalue(self, e: ast.Expr) -> LValue:
        saved = self.at(e)
        try:
            return self._lvalue(e)
        finally:
            self.em.pos = saved

    def _lvalue(self, e: ast.Expr) -> LValue:
        if isinstance(e, ast.Name):
            ref = e.ref
            if ref.kind == "local":
                return LValue("local", e.ty, reg=self.var_reg(ref.target))
            if ref.kind == "field":
                return LValue("field", e.ty, slot=self.layout.doc_slot(e.id))
            if ref.kind == "record_field":
                return LValue("rfield", e.ty, reg=self.row_for(ref.owner), struct=ref.owner,
                              slot=self.layout.field_slot(ref.owner, e.id),
                              indexed=self.layout.is_indexed(ref.owner, e.id))
        if isinstance(e, ast.FieldAccess) and T.is_struct(e.obj.ty):
            st = e.obj.ty
            obj = self.expr(e.obj)
            return LValue("rfield", e.ty, reg=obj, struct=st.name, slot=self.layout.field_slot(st.name, e.name),
                          indexed=self.layout.is_indexed(st.name, e.name))
        if isinstance(e, ast.Index) and isinstance(e.obj.ty, T.MapType) and e.index2 is not None:
            return self.grid_cell(e)
        if isinstance(e, ast.Index) and isinstance(e.obj.ty, T.MapType):
            mt = e.obj.ty
            m = self.expr(e.obj)
            key = self.boxed(e.index, mt.key)
            return LValue("map", mt.value, reg=m, key=key)
        raise CodegenError(f"internal: cannot assign to {type(e).__name__}")

    def grid_cell(self, e: ast.Index) -> LValue:
        """`g[x, y]` as a target: row x of the grid (made, empty, when absent), key y."""
        gt = e.obj.ty
        g = self.expr(e.obj)
        x = self.boxed(e.index, gt.key)
        row = self.temp("o")
        self.emit("MGET", row.n, g.n, x.n)
        there = self.label()
        self.emit("NULLJ", row.n, 0, there)
        self.emit("MNEW", row.n)
        self.emit("MPUTL", g.n, x.n, row.n)
        self.mark(there)
        self.free(g, x)
        return LValue("map", gt.value.value, reg=row, key=self.boxed(e.index2, gt.value.key))

    def load(self, lv: LValue, dst: Reg | None) -> Reg:
        """The target's current value."""
        if lv.kind == "local":
            if dst is not None and dst != lv.reg:
                self.move(dst, lv.reg)
                return dst
            return lv.reg
        if lv.kind == "field":
            out = self.target(dst, lv.type)
            self.emit(FGET[out.bank], out.n, lv.slot)
            return out
        if lv.kind == "rfield":
            out = self.target(dst, lv.type)
            self.emit(RGET[out.bank], out.n, lv.reg.n, lv.slot)
            return out
        out = self.target(dst, "o")
        self.emit("MGET", out.n, lv.reg.n, lv.key.n)
        return out

    def store(self, lv: LValue, value: Reg) -> None:
        t = lv.type
        if lv.kind == "local":
            self.move(lv.reg, value)
        elif lv.kind == "field":
            self.emit(FSET[value.bank], value.n, lv.slot)
        elif lv.kind == "rfield":
            if lv.indexed:
                st = T.RecordType(lv.struct)
                boxed = self.temp("o")
                self.box(value, t, boxed)
                self.host("table.set_indexed", [(lv.reg, st), K(lv.slot, T.INT), (boxed, T.DYNAMIC)],
                          [st, T.INT, T.DYNAMIC], T.VOID)
                self.free(boxed)
            else:
                self.emit(RSETL[value.bank], lv.reg.n, lv.slot, value.n)
        else:
            boxed = self.temp("o")
            self.box(value, t, boxed)
            self.emit("MPUTL", lv.reg.n, lv.key.n, boxed.n)
            self.free(boxed)

    def release(self, lv: LValue) -> None:
        if lv.kind in ("rfield", "map"):
            self.free(lv.reg, lv.key)

    def step(self, reg: Reg, t: T.Type, delta: int, out: Reg) -> None:
        k = kind_of(t)
        if k == "d":
            self.emit("DADDK", out.n, reg.n, float(delta))
        else:
            self.emit("LADDI" if k == "l" else "IADDI", out.n, reg.n, delta)

    def increment(self, target: ast.Expr, delta: int, pre: bool, dst, want: bool = False):
        """`x++`, `--x`...: as a value (`want`) it yields the old (post) or new
        (pre) value; as a statement it only steps the variable."""
        lv = self.lvalue(target)
        t = lv.type
        if want and dst is None:
            dst = self.temp(t)
        old = self.load(lv, None)
        new = self.temp(t) if lv.kind != "local" else old
        if lv.kind == "local":
            if dst is not None and not pre:
                self.move(dst, old)
            self.step(old, t, delta, old)
            if dst is not None and pre:
                self.move(dst, old)
            self.release(lv)
            return dst
        self.step(old, t, delta, new)
        self.store(lv, new)
        keep = new if pre else old
        drop = old if pre else new
        self.free(drop)
        self.release(lv)
        if dst is None:
            self.free(keep)
            return None
        return self.finish(dst, keep)

    def s_Assign(self, s: ast.Assign) -> None:
        target = s.target
        if isinstance(target, ast.FieldAccess) and T.is_sequence(target.obj.ty):
            return self.bulk_assign(s)
        lv = self.lvalue(target)
        if s.op == "=":
            if lv.kind == "local":
                self.expr_as(s.value, lv.type, lv.reg)
            else:
                r = self.expr_as(s.value, lv.type)
                if needs_copy(lv.type) and not fresh(s.value):
                    c = self.host("value.copy", [(r, lv.type)], [lv.type], lv.type)
                    self.free(r)
                    r = c
                self.store(lv, r)
                self.free(r)
        else:
            self.compound(lv, s.op[0], s.value)
        self.release(lv)

    def compound(self, lv: LValue, op: str, value: ast.Expr) -> None:
        t = lv.type
        if lv.kind == "map":
            # The entry is read as a maybe: an absent key is a run-time error, as
            # reading an empty maybe is.
            box = self.load(lv, None)
            old = self.temp(t)
            self.unbox(box, t, old)
            self.free(box)
        else:
            old = self.load(lv, None)
        if t == T.STRING:
            piece = self.text(value)
            new = old if lv.kind == "local" else self.temp("o")
            self.emit("SCAT", new.n, old.n, piece.n)
            self.free(piece)
        elif t == T.COMPLEX:  # z += w (language.md 3.12)
            new = self.complex_arith(op, old, t, value, value.ty, old if lv.kind == "local" else None)
        else:
            new = self.arith(op, old, value, t, old if lv.kind == "local" else None)
        if lv.kind != "local":
            self.store(lv, new)
            self.free(new)
        if old is not new:
            self.free(old)

    def bulk_assign(self, s: ast.Assign) -> None:
        """`(iterate t where ...).f op= v`: for every row of the list, v is
        evaluated and assigned (spec/language.md 5.19)."""
        target = s.target
        el = T.element_of(target.obj.ty)
        ft = self.info.struct(el.name).fields[target.name].type
        rows = self.expr(target.obj)
        slot = self.layout.field_slot(el.name, target.name)
        indexed = self.layout.is_indexed(el.name, target.name)

        def each(row: Reg) -> None:
            lv = LValue("rfield", ft, reg=row, struct=el.name, slot=slot, indexed=indexed)
            if s.op == "=":
                value = self.expr_as(s.value, ft)
                if needs_copy(ft) and not fresh(s.value):
                    c = self.host("value.copy", [(value, ft)], [ft], ft)
                    self.free(value)
                    value = c
                self.store(lv, value)
                self.free(value)
                return
            self.compound(lv, s.op[0], s.value)

        self.each_item(rows, el, each, skip_deleted=True)
        self.free(rows)

    def s_ExprStmt(self, s: ast.ExprStmt) -> None:
        r = self.expr(s.expr)
        self.free(r)

    # ================================================================ ingestion

    def deep(self, vt: T.Type, rt: T.RecordType) -> bool:
        """Does a value of type `vt` need field-by-field ingestion into a row
        of `rt` (a maybe into a plain field, a message into a record, a map
        into a map, a list into a table), rather than a copy?"""
        if not isinstance(vt, (T.RecordType, T.MessageType)) or vt == rt:
            return False
        want = self.info.struct(rt.name).fields
        for name, f in self.info.struct(vt.name).fields.items():
            if name not in want:
                continue
            ft = want[name].type
            if (isinstance(f.type, T.MaybeType) and not isinstance(ft, T.MaybeType)) \
                    or isinstance(ft, (T.RecordType, T.MapType, T.TableType)):
                return True
        return False

    def ingest_into(self, rec: Reg, rt: T.RecordType, src: Reg, st: T.Type) -> None:
        """Write the fields of `src` (a record or message) into record `rec`
        (language.md 6.3): each field `rt` has, but a row's id."""
        for name, f in self.info.struct(st.name).fields.items():
            if name == "id" and isinstance(st, T.RecordType):
                continue
            if name not in self.info.struct(rt.name).fields:
                continue
            v = self.temp(f.type)
            self.emit(RGET[v.bank], v.n, src.n, self.layout.field_slot(st.name, name))
            self.ingest_field(rec, rt, name, v, f.type)
            self.free(v)

    def ingest_field(self, rec: Reg, rt: T.RecordType, name: str, v: Reg, vt: T.Type) -> None:
        """One field of an ingested value into field `name` of record `rec`."""
        if name == "id":
            return  # a row's id is the table's
        ft = self.info.struct(rt.name).fields[name].type
        slot = self.layout.field_slot(rt.name, name)
        if isinstance(vt, T.MaybeType) and not isinstance(ft, T.MaybeType):
            skip = self.label()  # set only when present
            self.emit("NULLJ", v.n, 1, skip)
            inner = self.temp(vt.inner)
            self.unbox(v, vt.inner, inner)
            self.ingest_field(rec, rt, name, inner, vt.inner)
            self.free(inner)
            self.mark(skip)
            return
        if isinstance(ft, T.RecordType) and isinstance(vt, (T.RecordType, T.MessageType)):
            nested = self.temp("o")
            self.emit(RGET["o"], nested.n, rec.n, slot)
            self.ingest_into(nested, ft, v, vt)
            self.free(nested)
            return
        if isinstance(ft, T.MapType) and isinstance(vt, T.MapType):  # entries put in, as Adama's
            m = self.temp("o")
            self.emit(RGET["o"], m.n, rec.n, slot)
            self.ingest_map(m, ft, v, vt)
            self.free(m)
            return
        if isinstance(ft, T.TableType) and T.is_sequence(vt):
            table = self.temp("o")
            self.emit(RGET["o"], table.n, rec.n, slot)
            el = T.element_of(vt)

            def each(item: Reg) -> None:
                self.insert_value(table, item, el, ft.record)

            self.each_item(v, el, each, skip_deleted=False)
            self.free(table)
            return
        lv = LValue("rfield", ft, reg=rec, struct=rt.name, slot=slot,
                    indexed=self.layout.is_indexed(rt.name, name))
        r = self.temp(ft)
        self.convert(v, vt, ft, r)
        if needs_copy(ft):
            c = self.host("value.copy", [(r, ft)], [ft], ft)
            self.free(r)
            r = c
        self.store(lv, r)
        self.free(r)

    def ingest_map(self, m: Reg, ft: T.MapType, v: Reg, vt: T.MapType) -> None:
        """A map into map `m`: each entry of `v` put into it (Adama's getOrCreate
        then assign)."""
        keys, key, box = self.temp("o"), self.temp("o"), self.temp("o")
        self.emit("MKEYS", keys.n, v.n)

        def each(k: Reg) -> None:
            self.emit("MGET", box.n, v.n, k.n)
            val = self.temp(vt.value)
            self.unbox(box, vt.value, val)
            out = self.temp(ft.value)
            self.convert(val, vt.value, ft.value, out)
            self.box(out, ft.value, box)
            self.emit("MPUTL", m.n, k.n, box.n)
            self.free(val, out)

        self.each_item(keys, ft.key, each, skip_deleted=False)
        self.free(keys, key, box)

    def insert_value(self, table: Reg, item: Reg, vt: T.Type, row_t: T.RecordType) -> Reg | None:
        """Insert one value as a new row; the new row's id."""
        if self.deep(vt, row_t):
            row = self.temp("o")
            self.new_struct(row_t.name, row)
            rid = self.insert_row(table, row)
            self.ingest_into(row, row_t, item, vt)
            self.free(row)
            return rid
        row = self.make_row(item, vt, row_t)
        rid = self.insert_row(table, row)
        self.free(row)
        return rid

    def make_row(self, value, vt: T.Type, row_t: T.RecordType) -> Reg:
        """A fresh row Record from an expression or a (Reg, type) item."""
        if isinstance(value, ast.AnonObject) and value.ty == row_t:
            return self.expr(value)
        if isinstance(value, ast.Expr):
            src = self.expr(value)
        else:
            src = value
        out = self.copy_struct(src, vt, row_t, self.temp("o"), skip_id=True)
        if isinstance(value, ast.Expr):
            self.free(src)
        return out

    def insert_row(self, table: Reg, row: Reg) -> Reg:
        """The new row's id, from the machine's insert (TINSERT)."""
        rid = self.temp("i")
        self.emit("TINSERT", rid.n, table.n, row.n)
        return rid

    def ingest_native(self, s: ast.Ingest, tt: T.NativeTableType) -> None:
        """`t <- v` on a local table of messages (language.md 3.7.1): t becomes a new
        list of its items and copies of the new ones, so a list read from it
        before keeps the items it had."""
        var = self.var_reg(s.target.ref.target)
        el = tt.element
        out = self.temp("o")
        self.emit("LNEW", out.n)
        self.each_item(var, el, lambda item: self.emit("LPUSH", out.n, item.n), skip_deleted=False)

        def push(value, vt) -> None:
            if isinstance(value, ast.AnonObject) and value.ty == el:
                row = self.expr(value)
            else:
                src = self.expr(value) if isinstance(value, ast.Expr) else value
                row = self.copy_struct(src, vt, el, self.temp("o"))
                if isinstance(value, ast.Expr):
                    self.free(src)
            self.emit("LPUSH", out.n, row.n)
            self.free(row)

        vt = s.value.ty
        if T.is_sequence(vt):
            items = self.expr(s.value)
            self.each_item(items, T.element_of(vt), lambda item: push(item, T.element_of(vt)), skip_deleted=False)
            self.free(items)
        else:
            push(s.value, vt)
        self.move(var, out)
        self.free(out)

    def s_Ingest(self, s: ast.Ingest) -> None:
        tt = s.target.ty
        if isinstance(tt, T.NativeTableType):
            return self.ingest_native(s, tt)
        if isinstance(tt, T.MapType):  # a map's entries into a map (language.md 6.3)
            m, src = self.expr(s.target), self.expr(s.value)
            self.ingest_map(m, tt, src, s.value.ty)
            self.free(m, src)
            return
        if isinstance(tt, T.RecordType):  # into one record (language.md 6.3)
            rec = self.expr(s.target)
            if isinstance(s.value, ast.AnonObject) and s.value.ty == tt:
                for af in s.value.fields:  # only the fields the object names
                    v = self.expr(af.value)
                    self.ingest_field(rec, tt, af.name, v, af.value.ty)
                    self.free(v)
            else:
                src = self.expr(s.value)
                self.ingest_into(rec, tt, src, s.value.ty)
                self.free(src)
            self.free(rec)
            return
        row_t = tt.record
        table = self.expr(s.target)
        vt = s.value.ty
        if T.is_sequence(vt):
            el = T.element_of(vt)
            items = self.expr(s.value)

            def each(item: Reg) -> None:
                self.free(self.insert_value(table, item, el, row_t))

            self.each_item(items, el, each, skip_deleted=False)
            self.free(items, table)
            return
        if self.deep(vt, row_t):
            src = self.expr(s.value)
            rid = self.insert_value(table, src, vt, row_t)
            self.free(src, table)
        else:
            row = self.make_row(s.value, vt, row_t)
            rid = self.insert_row(table, row)
            self.free(row, table)
        if s.as_name:
            var = self.declare(s, s.as_name, T.INT)
            if var is not None:
                self.move(var, rid)
        self.free(rid)

    # ================================================================ control flow

    def s_If(self, s: ast.If) -> None:
        other, done = self.label(), self.label()
        if s.as_name and mod_by_constant(s.cond):
            # `x % K` with a constant K != 0 is never empty: no test, no else.
            self.push_scope()
            var = self.declare(s, s.as_name, s.cond.ty.inner)
            if var is not None:
                self.mod_value(s.cond, var)
            self.block(s.then)
            self.pop_scope()
            return
        if s.as_name:
            m = self.expr(s.cond)
            self.emit("NULLJ", m.n, 1, other)
            self.push_scope()
            inner = s.cond.ty.inner
            var = self.declare(s, s.as_name, inner)
            if var is not None:
                self.unbox(m, inner, var)
            self.free(m)
            self.block(s.then)
            self.pop_scope()
        elif isinstance(s.cond.ty, T.MaybeType):
            # `if (m)` on a maybe<bool>: taken when present and true (language.md 6.4)
            m = self.expr(s.cond)
            self.emit("NULLJ", m.n, 1, other)
            b = self.temp("i")
            self.unbox(m, T.BOOL, b)
            self.free(m)
            self.emit("TESTJ", b.n, 0, other)
            self.free(b)
            self.block(s.then)
        else:
            self.cond(s.cond, other, False)
            self.block(s.then)
        if s.otherwise is None:
            self.mark(other)
            return
        self.emit("JMP", done)
        self.mark(other)
        self.stmt(s.otherwise)
        self.mark(done)

    def loop(self, body: ast.Block, brk, cont) -> None:
        self.em.loops.append((brk, cont))
        self.block(body)
        self.em.loops.pop()

    def s_While(self, s: ast.While) -> None:
        top, check, done = self.label(), self.label(), self.label()
        self.emit("JMP", check)
        self.mark(top)
        self.loop(s.body, done, check)
        self.mark(check)
        self.cond(s.cond, top, True)
        self.mark(done)

    def s_DoWhile(self, s: ast.DoWhile) -> None:
        top, check, done = self.label(), self.label(), self.label()
        self.mark(top)
        self.loop(s.body, done, check)
        self.mark(check)
        self.cond(s.cond, top, True)
        self.mark(done)

    def counted_loop(self, s: ast.For):
        """(counter, step, limit) when the loop is `for (...; i < n; i++)` (or
        `i += k`, 1 <= k <= 128) on an int or long local with a local or constant
        limit: the step and the test become one IFORLT/LFORLT."""
        c, st = s.cond, s.step
        if not (isinstance(c, ast.Binary) and c.op == "<" and isinstance(c.left, ast.Name)
                and c.left.ref is not None and c.left.ref.kind == "local"
                and c.left.ty in (T.INT, T.LONG)):
            return None
        var = c.left.ref.target
        if isinstance(st, ast.ExprStmt) and isinstance(st.expr, ast.Unary) \
                and st.expr.op in ("++post", "++pre"):
            target, k = st.expr.operand, 1
        elif isinstance(st, ast.Assign) and st.op == "+=" and int_constant(st.value) is not None:
            target, k = st.target, int_constant(st.value)
        else:
            return None
        if not (isinstance(target, ast.Name) and target.ref is not None and target.ref.target is var
                and 1 <= k <= 128):
            return None
        limit = c.right
        if not (int_constant(limit) is not None or (isinstance(limit, ast.Name) and limit.ref is not None
                                                    and limit.ref.kind == "local")):
            return None
        if limit.ty not in (T.INT, T.LONG):
            return None
        return var, k, limit

    def s_For(self, s: ast.For) -> None:
        self.push_scope()
        if s.init is not None:
            self.stmt(s.init)
        counted = self.counted_loop(s)
        if counted is not None:
            self.fused_for(s, *counted)
            self.pop_scope()
            return
        top, step, check, done = self.label(), self.label(), self.label(), self.label()
        self.emit("JMP", check)
        self.mark(top)
        self.loop(s.body, done, step)
        self.mark(step)
        if s.step is not None:
            self.stmt(s.step)
        self.mark(check)
        if s.cond is not None:
            self.cond(s.cond, top, True)
        else:
            self.emit("JMP", top)
        self.mark(done)
        self.pop_scope()

    def fused_for(self, s: ast.For, var, k: int, limit: ast.Expr) -> None:
        counter = self.var_reg(var)
        bound = self.expr_as(limit, T.LONG)  # a local's own register, or a constant loaded once
        top, step, done = self.label(), self.label(), self.label()
        saved = self.at(s.cond)
        self.emit("ILTJ", counter.n, bound.n, 0, done)
        self.em.pos = saved
        self.mark(top)
        self.loop(s.body, done, step)
        self.mark(step)
        saved = self.at(s.step)
        self.emit("LFORLT" if var.type == T.LONG else "IFORLT", counter.n, bound.n, k, top)
        self.em.pos = saved
        self.mark(done)
        self.free(bound)

    def s_ForEach(self, s: ast.ForEach) -> None:
        if self.foreach_where(s):  # walks the table once (gen_query.py)
            return
        it = s.iterable.ty
        if isinstance(it, T.TableType):
            el = it.record
            src = self.host("table.rows", [s.iterable], [it], T.ListType(el))
        elif isinstance(it, T.MapType):  # a snapshot of the entries, in insertion order
            el = T.PairType(it.key, it.value)
            src = self.host("map.pairs", [s.iterable], [it], T.ListType(el))
        else:
            el = T.element_of(it)
            src = self.expr(s.iterable)
        self.push_scope()
        var = self.declare(s, s.name, el)
        done = self.label()

        def each(item: Reg, cont) -> None:
            if var is not None:
                self.unbox(item, el, var)
            self.em.loops.append((done, cont))
            self.block(s.body)
            self.em.loops.pop()

        self.each_item(src, el, each, skip_deleted=isinstance(el, T.RecordType), done=done,
                       pass_continue=True)
        self.free(src)
        self.pop_scope()

    def s_Switch(self, s: ast.Switch) -> None:
        subject = self.expr(s.subject)
        t = s.subject.ty
        labels = [self.label() for _ in s.cases]
        done = self.label()
        default = done
        for case, lab in zip(s.cases, labels):
            if case.value is None:
                default = lab
                continue
            saved = self.at(case.value)
            k = int_constant(case.value)
            if subject.bank == "i":
                if k is None:  # an enum value or a bool
                    v = case.value
                    k = self.info.enums[v.enum].values[v.value] if isinstance(v, ast.EnumValue) else int(v.value)
                self.emit("IEQJK", subject.n, k, 1, lab)
            else:
                const = self.temp("o")
                self.expr_as(case.value, t, const)
                hit = self.temp("i")
                self.emit("OEQ", hit.n, subject.n, const.n)
                self.emit("TESTJ", hit.n, 1, lab)
                self.free(const, hit)
            self.em.pos = saved
        self.emit("JMP", default)
        self.em.loops.append((done, None))
        for case, lab in zip(s.cases, labels):
            self.mark(lab)
            self.push_scope()
            for st in case.body:
                self.stmt(st)
            self.pop_scope()
        self.em.loops.pop()
        self.mark(done)
        self.free(subject)

    def s_Break(self, s: ast.Break) -> None:
        self.emit("JMP", self.em.loops[-1][0])

    def s_Continue(self, s: ast.Continue) -> None:
        for _, cont in reversed(self.em.loops):
            if cont is not None:
                self.emit("JMP", cont)
                return
        raise CodegenError("internal: continue outside a loop")

    def s_Return(self, s: ast.Return) -> None:
        if s.value is None:
            self.emit("RET")
            return
        r = self.expr_as(s.value, self.em.result)
        self.emit(RETURN[kind_of(self.em.result)], r.n)
        self.free(r)

    def s_RequireGuard(self, s: ast.RequireGuard) -> None:
        """A channel's `requires<p, ...>`: a sender some policy refuses is turned
        away before the body runs, as if the channel aborted."""
        for name in s.policies:
            ok = self.label()
            r = self.call(f"policy.{name}", [], [], T.BOOL, None)
            self.emit("TESTJ", r.n, 1, ok)
            self.emit("ABORT")
            self.mark(ok)
            self.free(r)

    def s_Abort(self, s: ast.Abort) -> None:
        self.emit("ABORT")

    # ================================================================ the test harness
    #
    # A test's harness statements suspend the test with a payload the test
    # runner (advm/commands/runtests.py) reads: a list whose first item names
    # the action ("$step", "$forward", "$pump", "$aborts").
    # The runner acts between transactions and resumes the test.

    def test_suspend(self, kind: str, items=()) -> Reg:
        payload = self.temp("o")
        self.emit("LNEW", payload.n)
        k = self.temp("o")
        self.emit("OLOADK", k.n, kind)
        self.emit("LPUSH", payload.n, k.n)
        self.free(k)
        for reg in items:
            self.emit("LPUSH", payload.n, reg.n)
            self.free(reg)
        got = self.temp("o")
        self.emit("SUSPEND", got.n, payload.n)
        self.free(payload)
        return got

    def s_TestStep(self, s: ast.TestStep) -> None:
        self.free(self.test_suspend("$step"))

    def s_TestForward(self, s: ast.TestForward) -> None:
        t = T.TIMESPAN if s.value.ty == T.TIMESPAN else T.DOUBLE
        self.free(self.test_suspend("$forward", [self.boxed(s.value, t)]))

    def s_TestPump(self, s: ast.TestPump) -> None:
        ch = self.info.channels[s.channel]
        t = T.ArrayType(ch.message) if ch.is_array else ch.message
        name = self.temp("o")
        self.emit("OLOADK", name.n, s.channel)
        self.free(self.test_suspend("$pump", [name, self.boxed(s.value, t)]))

    def s_TestSend(self, s: ast.TestSend) -> None:
        ch = self.info.channels[s.channel]
        t = T.ArrayType(ch.message) if ch.is_array else ch.message
        name = self.temp("o")
        self.emit("OLOADK", name.n, s.channel)
        got = self.test_suspend("$send", [name, self.boxed(s.who, T.PRINCIPAL), self.boxed(s.value, t)])
        # resumed with 1 inside @aborts when the handler aborted: the test aborts here too,
        # which ends the @aborts block as Adama's `catch (AbortMessageException)` does
        flag = self.temp("i")
        self.unbox(got, T.INT, flag)
        self.free(got)
        after = self.label()
        self.emit("IEQJK", flag.n, 1, 0, after)
        self.free(flag)
        self.at(s)
        self.emit("ABORT")
        self.mark(after)

    def s_TestAborts(self, s: ast.TestAborts) -> None:
        # resumed with 0: run the block (the runner expects it to abort, and then
        # resumes here again with 1); a block that ends fails the test here (FAIL)
        got = self.test_suspend("$aborts")
        flag = self.temp("i")
        self.unbox(got, T.INT, flag)
        self.free(got)
        after = self.label()
        self.emit("IEQJK", flag.n, 1, 1, after)
        self.free(flag)
        self.stmt(s.body)
        self.at(s)
        self.emit("FAIL", ABORTS_MISSED)
        self.mark(after)

    def s_Log(self, s: ast.Log) -> None:
        line = self.expr_as(s.value, T.STRING)
        self.host("debug", [(line, T.STRING)], [T.STRING], T.VOID)
        self.free(line)

    def s_Assert(self, s: ast.Assert) -> None:
        ok = self.label()
        self.cond(s.cond, ok, True)
        self.emit("FAIL", "assertion failed")
        self.mark(ok)

    # ================================================================ the document's own statements

    def s_Transition(self, s: ast.Transition) -> None:
        """`transition #s in d;` only notes the state and the delay in the
        document's hidden slots NEXT and NEXT_IN (the last one written wins);
        the runtime takes them once the transaction commits and runs `state.<s>`
        when it is due (runtime/living.py `LivingDocument._committed`, then
        `_run_due`; codegen.py's docstring follows the whole way)."""
        target = self.expr(s.target)
        self.emit("FSETO", target.n, NEXT)
        self.free(target)
        delay = self.temp("d")
        if s.delay is not None:
            self.expr_as(s.delay, T.DOUBLE, delay)
        else:
            self.emit("DLOADK", delay.n, 0.0)
        self.emit("FSETD", delay.n, NEXT_IN)
        self.free(delay)

    def s_Invoke(self, s: ast.Invoke) -> None:
        """Run the state's block inline; a state already being invoked is a
        run-time error (the set of those is logged document state, so an abort
        inside the invoked block leaves it right)."""
        running = self.temp("o")
        key = self.temp("o")
        hit = self.temp("i")
        ok = self.label()
        self.emit("FGETO", running.n, INVOKING)
        self.emit("OLOADK", key.n, s.state)
        self.emit("MHAS", hit.n, running.n, key.n)
        self.emit("TESTJ", hit.n, 0, ok)
        self.emit("FAIL", f"state #{s.state} is already being invoked")
        self.mark(ok)
        self.emit("ILOADI", hit.n, 1)
        flag = self.temp("o")
        self.emit("BBOX", flag.n, hit.n)
        self.emit("MPUTL", running.n, key.n, flag.n)
        self.free(flag, hit)
        self.call(self.layout.state_fn(s.state), [], [], T.VOID)
        self.emit("MDELL", running.n, key.n)
        self.free(running, key)

    def s_Preempt(self, s: ast.Preempt) -> None:
        """Name the state to run should this block wait (language.md 6.9.1): a
        logged write into the hidden INVOKING map, so an abort undoes it; the
        runtime reads it when the block waits (runtime/engine.py)."""
        running = self.temp("o")
        key = self.temp("o")
        self.emit("FGETO", running.n, INVOKING)
        self.emit("OLOADK", key.n, PREEMPT_KEY)
        target = self.expr(s.target)
        self.emit("MPUTL", running.n, key.n, target.n)
        self.free(running, key, target)

    def s_BlockState(self, s: ast.BlockState) -> None:
        """The runtime never resumes this SUSPEND: it undoes the block's run, or
        runs the state a `preempt` named (runtime/engine.py)."""
        self.free(self.test_suspend(BLOCK_KIND))

    def s_Destroy(self, s: ast.Destroy) -> None:
        self.host("Document.destroy/0", [], [], T.VOID)

    def s_Debug(self, s: ast.Debug) -> None:
        """The arguments are evaluated always (so one that fails, fails the
        transaction whether anybody listens or not, and replay does what the
        server did); the line is made only while someone listens: the runtime
        leaves the hidden DEBUG slot empty otherwise and the statement jumps
        over the text. The format and the arguments' texts go to the host in
        one call (`debug.line`), which makes the line in Python, so the
        document's string bound never applies to a debug line
        (spec/language.md 6.12)."""
        fmt = s.format.value
        values = []
        for a in s.args:
            t = plain_type(a)
            numeric = kind_of(t) in ("i", "l", "b", "d") and not isinstance(t, T.EnumType)
            values.append((self.expr_as(a, t) if numeric and mod_by_constant(a) else self.expr(a), t))
        probe = self.temp("o")
        skip = self.label()
        self.emit("FGETO", probe.n, DEBUG)
        self.emit("NULLJ", probe.n, 1, skip)
        self.free(probe)
        texts = [self.debug_text(reg, t) for reg, t in values]
        template = self.temp("o")
        self.emit("OLOADK", template.n, fmt)
        self.host("debug.line", [(template, T.STRING)] + [(reg, T.STRING) for reg, _ in texts],
                  [T.STRING] * (1 + len(texts)), T.VOID)
        self.free(template)
        for reg, own in texts:
            if own:
                self.free(reg)
        self.mark(skip)
        for reg, _ in values:
            self.free(reg)

    def debug_text(self, reg: Reg, t: T.Type) -> tuple[Reg, bool]:
        """The text form of a value already in `reg` (as gen_expr's `text`),
        and whether the register returned is a new one."""
        if t == T.STRING:
            return reg, False
        if kind_of(t) in ("i", "l", "b", "d") and not isinstance(t, T.EnumType):
            out = self.temp("o")
            self.emit({"i": "ITOS", "l": "ITOS", "b": "BTOS", "d": "DTOS"}[kind_of(t)], out.n, reg.n)
            return out, True
        if isinstance(t, T.EnumType):
            key = self.temp("o")
            self.emit("IBOX", key.n, reg.n)
            names = self.temp("o")
            self.emit("OLOADK", names.n, self.layout.enum_names(t.name))
            out = self.temp("o")
            self.emit("MGET", out.n, names.n, key.n)
            self.free(key, names)
            return out, True
        if t == T.PRINCIPAL:
            return self.host("text.agent", [(reg, T.PRINCIPAL)], [T.PRINCIPAL], T.STRING), True
        return reg, False  # dates, times, labels: already their ISO text
