"""Queries and loops over sequences (a mixin of codegen.FuncGen).

`iterate t where c order by ... limit n offset m shuffle` becomes: the rows of
the table (or, when the first `where` pins an indexed field or `id` to a value
that does not depend on the row, the rows the index gives), then one step per
clause in source order. `where` is a loop in bytecode over the current list
with the row in a register, so bare field names read it with RGET; the other
steps are host functions (vm/stdlib.py). The `where` condition is always
evaluated in full, so an index only ever narrows the rows it looks at.
"""
from __future__ import annotations

from . import ast
from . import types as T
from .gen_expr import K
from .regalloc import Reg


def conjuncts(e: ast.Expr) -> list:
    if isinstance(e, ast.Binary) and e.op == "&&":
        return conjuncts(e.left) + conjuncts(e.right)
    return [e]


def reads_row(e: ast.Expr) -> bool:
    """Does `e` read anything that depends on the row being filtered?"""
    stack = [e]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Name) and n.ref is not None and n.ref.kind in ("record_field", "formula") \
                and n.ref.owner is not None:
            return True
        if isinstance(n, ast.Call) and getattr(n.ref, "kind", None) == "method":
            return True
        for value in vars(n).values():
            if isinstance(value, ast.Node):
                stack.append(value)
            elif isinstance(value, list):
                stack.extend(v for v in value if isinstance(v, ast.Node))
    return False


class QueryGen:
    def each_item(self, src: Reg, el: T.Type, body, skip_deleted: bool, done=None,
                  pass_continue: bool = False) -> None:
        """Run `body(item_reg[, continue_label])` for every item of list `src`
        (items as objects). With `skip_deleted`, rows deleted since the list
        was made are passed over (spec/language.md 6.5)."""
        n, i = self.temp("i"), self.temp("i")
        item = self.temp("o")
        top, cont = self.label(), self.label()
        done = done if done is not None else self.label()
        self.emit("LLEN", n.n, src.n)
        self.emit("ILOADI", i.n, 0)
        self.emit("ILEJK", n.n, 0, 1, done)
        self.mark(top)
        self.emit("LGET", item.n, src.n, i.n)
        if skip_deleted:
            owner = self.temp("o")
            self.emit("RGETO", owner.n, item.n, self.mod.owner_slot(el.name))
            self.emit("NULLJ", owner.n, 1, cont)
            self.free(owner)
        if pass_continue:
            body(item, cont)
        else:
            body(item)
        self.mark(cont)
        self.emit("IFORLT", i.n, n.n, 1, top)
        self.mark(done)
        self.free(n, i, item)

    def g_Iterate(self, e: ast.Iterate, dst):
        st = e.source.ty
        row_t = e.ty.element
        steps = list(e.steps)
        if isinstance(st, T.TableType):
            cur = self.table_source(e.source, st, row_t, steps)
        else:
            cur = self.expr(e.source)
        for step in steps:
            saved = self.at(step)
            nxt = self.query_step(step, cur, row_t, e.ty)
            self.free(cur)
            cur = nxt
            self.pos = saved
        return self.finish(dst, cur) if dst is not None else cur

    def table_source(self, source: ast.Expr, st: T.TableType, row_t: T.RecordType, steps: list) -> Reg:
        lt = T.ListType(row_t)
        if steps and isinstance(steps[0], ast.Where):
            found = self.index_key(steps[0].cond, row_t)
            if found is not None:
                field, key = found
                if field == "id":
                    return self.host("table.by_id", [source, (key, T.INT)] if isinstance(key, Reg)
                                     else [source, key], [st, T.INT], lt)
                ft = self.info.records[row_t.name].fields[field].type
                boxed = self.boxed(key, ft)
                out = self.host("table.lookup", [source, K(self.mod.field_slot(row_t.name, field), T.INT),
                                                 (boxed, T.DYNAMIC)], [st, T.INT, T.DYNAMIC], lt)
                self.free(boxed)
                return out
        return self.host("table.rows", [source], [st], lt)

    def index_key(self, cond: ast.Expr, row_t: T.RecordType):
        """(field, key expression) when a conjunct of `cond` is `field == key` on
        `id` or an indexed field, with a key that does not read the row."""
        rec = self.info.records[row_t.name]
        for c in conjuncts(cond):
            if not (isinstance(c, ast.Binary) and c.op == "=="):
                continue
            for side, other in ((c.left, c.right), (c.right, c.left)):
                if not (isinstance(side, ast.Name) and side.ref is not None
                        and side.ref.kind == "record_field" and side.ref.owner == row_t.name):
                    continue
                if side.id != "id" and side.id not in rec.indexes:
                    continue
                if isinstance(other.ty, T.MaybeType) or reads_row(other):
                    continue
                if side.id == "id" and other.ty not in (T.INT, T.LONG):
                    continue
                return side.id, other
        return None

    def query_step(self, step, cur: Reg, row_t: T.Type, lt: T.Type) -> Reg:
        if isinstance(step, ast.Where):
            out = self.temp("o")
            self.emit("LNEW", out.n)

            def keep(row: Reg) -> None:
                skip = self.label()
                self.rows.append((row_t.name, row))
                self.cond(step.cond, skip, False)
                self.rows.pop()
                self.emit("LPUSH", out.n, row.n)
                self.mark(skip)

            self.each_item(cur, row_t, keep, skip_deleted=False)
            return out
        if isinstance(step, ast.OrderBy):
            keys = [[self.mod.field_slot(row_t.name, k.field), 1 if k.descending else 0] for k in step.keys]
            return self.host("seq.order", [(cur, lt), K(keys, T.DYNAMIC)], [lt, T.DYNAMIC], lt)
        if isinstance(step, ast.Limit):
            return self.host("seq.limit", [(cur, lt), step.count], [lt, T.INT], lt)
        if isinstance(step, ast.Offset):
            return self.host("seq.offset", [(cur, lt), step.count], [lt, T.INT], lt)
        return self.host("seq.shuffle", [(cur, lt)], [lt], lt)
