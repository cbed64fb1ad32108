"""Queries and loops over sequences (a stage of code generation, wired by codegen.py).

`iterate t where c order by ... limit n offset m shuffle` becomes: the rows of
the table (or, when the first `where` pins an indexed field or `id` to a value
that does not depend on the row, the rows the index gives), then one step per
clause in source order. `where` is a loop in bytecode over the current list
with the row in a register, so bare field names read it with RGET; the other
steps are host functions (vm/stdlib.py). The `where` condition is always
evaluated in full, so an index only ever narrows the rows it looks at.

A leading `where` that no index answers walks the table in place (TNEXT)
rather than copying all its rows into a list first; and `foreach (r in
iterate t where c)` runs its body inside that walk when the body cannot tell
the difference (it writes only locals that `c` does not read), so the rows
that pass are visited once, not collected and then visited again.
"""
from __future__ import annotations

from . import ast
from . import types as T
from .emitter import Emitter, K
from .gen_types import kind_of
from .regalloc import Reg


# Field types whose `==` is the value equality a dict lookup uses.
_EXACT_KEYS = frozenset({T.INT, T.LONG, T.STRING, T.BOOL, T.PRINCIPAL})


def conjuncts(e: ast.Expr) -> list:
    if isinstance(e, ast.Binary) and e.op == "&&":
        return conjuncts(e.left) + conjuncts(e.right)
    return [e]


def reads_row(e: ast.Expr) -> bool:
    """Does `e` read anything that depends on the row being filtered?"""
    for n in ast.walk(e):
        if isinstance(n, ast.Name) and n.ref is not None and n.ref.kind in ("record_field", "formula") \
                and n.ref.owner is not None:
            return True
        if isinstance(n, ast.Call) and getattr(n.ref, "kind", None) in ("method", "method_each"):
            return True
    return False


# Statements a body may hold and still run inside a table walk (with only
# local assignments and calls of pure functions in them).
LOCAL_ONLY = (ast.Block, ast.VarDecl, ast.Assign, ast.ExprStmt, ast.If, ast.While, ast.DoWhile,
              ast.For, ast.Switch, ast.Case, ast.Break, ast.Continue, ast.Return)


def _is_local(e) -> bool:
    return isinstance(e, ast.Name) and e.ref is not None and e.ref.kind == "local"


def locals_written(body) -> set | None:
    """The locals (LocalVar ids) `body` assigns, or None when it may change
    anything else: a field, a table, a row, a container, or call a procedure."""
    written: set = set()
    for n in ast.walk(body):
        if isinstance(n, ast.Stmt) and not isinstance(n, LOCAL_ONLY):
            return None
        if isinstance(n, ast.Assign):
            if not _is_local(n.target):
                return None
            written.add(id(n.target.ref.target))
        elif isinstance(n, ast.Unary) and n.op[:2] in ("++", "--"):
            if not _is_local(n.operand):
                return None
            written.add(id(n.operand.ref.target))
        elif isinstance(n, ast.Call) and getattr(n.ref, "kind", None) != "function":
            return None
    return written


def locals_read(e: ast.Expr) -> set:
    return {id(n.ref.target) for n in ast.walk(e) if _is_local(n)}


class Queries:
    """What queries and loops over sequences become. Takes the emitter, the
    checked document and the layout; `connect` hands it the stages it needs."""

    def __init__(self, em: Emitter, info, layout):
        self.em, self.info, self.layout = em, info, layout
        self.at, self.emit, self.label, self.mark = em.at, em.emit, em.label, em.mark
        self.temp, self.free, self.box, self.unbox, self.finish = em.temp, em.free, em.box, em.unbox, em.finish
        self.declare, self.push_scope, self.pop_scope = em.declare, em.push_scope, em.pop_scope

    def connect(self, exprs, data, calls, stmts) -> None:
        self.expr, self.cond, self.expr_as = exprs.expr, exprs.cond, exprs.expr_as
        self.boxed, self.map_sequence = data.boxed, data.map_sequence
        self.call, self.host = calls.call, calls.host
        self.block = stmts.block

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
            self.emit("RGETO", owner.n, item.n, self.layout.owner_slot(el.name))
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

    def foreach_where(self, s: ast.ForEach) -> bool:
        """`foreach (r in iterate t where c) body` as one walk of the table when
        that cannot differ from filtering first (module docstring). Emits
        nothing and returns False otherwise."""
        it = s.iterable
        if not (isinstance(it, ast.Iterate) and isinstance(it.source.ty, T.TableType)
                and len(it.steps) == 1 and isinstance(it.steps[0], ast.Where)):
            return False
        row_t, where = it.source.ty.record, it.steps[0]
        written = locals_written(s.body)
        if written is None or written & locals_read(where.cond) or self.index_key(where.cond, row_t):
            return False
        table, pos = self.expr(it.source), self.temp("i")
        self.push_scope()
        var = self.declare(s, s.name, row_t)
        row = var if var is not None else self.temp("o")
        top, done = self.label(), self.label()
        self.emit("ILOADI", pos.n, 0)
        self.mark(top)
        saved = self.at(where)
        self.emit("TNEXT", row.n, table.n, pos.n, done)
        self.em.rows.append((row_t.name, row))
        self.cond(where.cond, top, False)
        self.em.rows.pop()
        self.em.pos = saved
        self.em.loops.append((done, top))
        self.block(s.body)
        self.em.loops.pop()
        self.emit("JMP", top)
        self.mark(done)
        self.pop_scope()
        if var is None:
            self.free(row)
        self.free(pos, table)
        return True

    def g_Iterate(self, e: ast.Iterate, dst):
        st = e.source.ty
        row_t = e.steps[0].item if e.steps else e.ty.element
        steps = list(e.steps)
        # Rows from a table come in id order (by_id, lookup and where keep it),
        # so ordering by id alone needs no sort: ascending is the order they
        # have, descending the reverse; and `order by id desc limit n` straight
        # off a table takes the newest n rows without copying the others.
        in_id_order = isinstance(st, T.TableType)
        if in_id_order and len(steps) >= 1 and self.by_id_only(steps[0]) and steps[0].keys[0].descending:
            saved = self.at(steps[0])
            count = steps[1].count if len(steps) > 1 and isinstance(steps[1], ast.Limit) else K(-1, T.INT)
            cur = self.host("table.newest", [e.source, count], [st, T.INT], T.ListType(row_t))
            self.em.pos = saved
            del steps[:2 if len(steps) > 1 and isinstance(steps[1], ast.Limit) else 1]
            in_id_order = False
        elif in_id_order:
            cur = self.table_source(e.source, st, row_t, steps)
        else:
            cur = self.expr(e.source)
        for step in steps:
            if in_id_order and self.by_id_only(step):
                if not step.keys[0].descending:
                    continue  # already in that order
                saved = self.at(step)
                lt = T.ListType(row_t)
                nxt = self.host("sequence.reverse/0", [(cur, lt)], [lt], lt)
                in_id_order = False
            else:
                saved = self.at(step)
                nxt = self.query_step(step, cur, step.item, T.ListType(step.item))
                in_id_order = in_id_order and isinstance(step, (ast.Where, ast.Limit, ast.Offset))
            if not isinstance(step, ast.MapStep):  # map_sequence frees its source itself
                self.free(cur)
            cur = nxt
            self.em.pos = saved
        return self.finish(dst, cur) if dst is not None else cur

    @staticmethod
    def by_id_only(step) -> bool:
        """`order by id` or `order by id desc`: ids are unique, so no other key matters."""
        return isinstance(step, ast.OrderBy) and len(step.keys) >= 1 and step.keys[0].field == "id"

    def table_source(self, source: ast.Expr, st: T.TableType, row_t: T.RecordType, steps: list) -> Reg:
        """The rows a query starts from. A leading `where` that no index answers
        is taken off `steps` and run while walking the table (TNEXT)."""
        lt = T.ListType(row_t)
        if steps and isinstance(steps[0], ast.Where):
            found = self.index_key(steps[0].cond, row_t)
            if found is not None:
                field, key = found
                if self.answers_where(steps[0].cond, field, key, row_t):
                    steps.pop(0)
                if field == "id":
                    return self.host("table.by_id", [source, (key, T.INT)] if isinstance(key, Reg)
                                     else [source, key], [st, T.INT], lt)
                ft = self.info.records[row_t.name].fields[field].type
                boxed = self.boxed(key, ft)
                out = self.host("table.lookup", [source, K(self.layout.field_slot(row_t.name, field), T.INT),
                                                 (boxed, T.DYNAMIC)], [st, T.INT, T.DYNAMIC], lt)
                self.free(boxed)
                return out
            return self.scan_where(source, steps.pop(0), row_t)
        return self.host("table.rows", [source], [st], lt)

    def answers_where(self, cond: ast.Expr, field: str, key: ast.Expr, row_t: T.RecordType) -> bool:
        """Does the lookup of `field == key` give exactly the rows `where cond`
        keeps, so that the `where` need not run again over them? Only when the
        condition is that one comparison, the key has the field's own type
        (boxing it to another type could change it), that type compares by
        plain value equality, as the index's dict does (not double: its `==`
        is approximate), and evaluating the key once instead of twice cannot
        be observed (a name, `@who` and the like, or a literal)."""
        if len(conjuncts(cond)) != 1:
            return False
        ft = self.info.records[row_t.name].fields[field].type
        if key.ty != ft or not (ft in _EXACT_KEYS or isinstance(ft, T.EnumType)):
            return False
        if isinstance(key, ast.Name):
            return key.ref is not None and key.ref.kind in ("local", "field")
        return isinstance(key, (ast.Special, ast.IntLit, ast.StringLit, ast.BoolLit, ast.EnumValue))

    def scan_where(self, source: ast.Expr, where: ast.Where, row_t: T.RecordType) -> Reg:
        """The rows of a table that pass `where`, in id order, without first
        copying every row into a list."""
        table = self.expr(source)
        out, row, pos = self.temp("o"), self.temp("o"), self.temp("i")
        top, done = self.label(), self.label()
        self.emit("LNEW", out.n)
        self.emit("ILOADI", pos.n, 0)
        self.mark(top)
        self.emit("TNEXT", row.n, table.n, pos.n, done)
        saved = self.at(where)
        self.em.rows.append((row_t.name, row))
        self.cond(where.cond, top, False)
        self.em.rows.pop()
        self.emit("LPUSH", out.n, row.n)
        self.emit("JMP", top)
        self.em.pos = saved
        self.mark(done)
        self.free(row, pos, table)
        return out

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

    def walk_table(self, table: Reg, body) -> None:
        """`body(row)` for every row of the table in `table`, in id order."""
        row, pos = self.temp("o"), self.temp("i")
        top, done = self.label(), self.label()
        self.emit("ILOADI", pos.n, 0)
        self.mark(top)
        self.emit("TNEXT", row.n, table.n, pos.n, done)
        body(row)
        self.emit("JMP", top)
        self.mark(done)
        self.free(row, pos)

    def doc_tables(self, record: str) -> list:
        """The document's table fields of `record` rows, in declaration order."""
        return [n for n, f in self.info.fields.items()
                if isinstance(f.type, T.TableType) and f.type.record.name == record]

    def traverse(self, step: ast.Traverse, cur: Reg, row_t: T.Type) -> Reg:
        """`traverse a` (language.md 4.25): the ids of the items, the edges of
        every join of `a` that leave one of them (each join's table walked with
        its record's rows in scope), and the To rows those edges reach, each id
        once (the first of the document's tables of To that has it), by id, as
        Adama's RxAssocGraph.map gives them."""
        a = step.info
        one, key, idr, has = self.temp("i"), self.temp("o"), self.temp("i"), self.temp("i")
        flag, ids, hits = self.temp("o"), self.temp("o"), self.temp("o")
        self.emit("ILOADI", one.n, 1)
        self.emit("BBOX", flag.n, one.n)
        self.emit("MNEW", ids.n)
        self.emit("MNEW", hits.n)

        def note(item: Reg) -> None:
            self.emit("RGETI", idr.n, item.n, self.layout.field_slot(row_t.name, "id"))
            self.emit("IBOX", key.n, idr.n)
            self.emit("MPUT", ids.n, key.n, flag.n)

        self.each_item(cur, row_t, note, skip_deleted=False)
        for owner, j in a.joins:
            self.push_scope()
            fields = self.info.records[owner].fields if owner else self.info.fields
            var = self.declare(j, j.item, fields[j.table].type.record)

            def edge(x: Reg, j=j, var=var) -> None:
                skip = self.label()
                if var is not None:
                    self.em.move(var, x)
                v = self.expr(j.source)
                self.emit("IBOX", key.n, v.n)
                self.free(v)
                self.emit("MHAS", has.n, ids.n, key.n)
                self.emit("TESTJ", has.n, 0, skip)
                t = self.expr(j.target)
                self.emit("IBOX", key.n, t.n)
                self.free(t)
                self.emit("MPUT", hits.n, key.n, flag.n)
                self.mark(skip)

            table = self.temp("o")
            if owner is None:
                self.emit("FGETO", table.n, self.layout.doc_slot(j.table))
                self.walk_table(table, edge)
            else:
                def rows_of(g: Reg, j=j, owner=owner, edge=edge) -> None:
                    inner = self.temp("o")
                    self.emit("RGETO", inner.n, g.n, self.layout.field_slot(owner, j.table))
                    self.em.rows.append((owner, g))
                    self.walk_table(inner, edge)
                    self.em.rows.pop()
                    self.free(inner)

                for name in self.doc_tables(owner):
                    self.emit("FGETO", table.n, self.layout.doc_slot(name))
                    self.walk_table(table, rows_of)
            self.free(table)
            self.pop_scope()
        out, table = self.temp("o"), self.temp("o")
        self.emit("LNEW", out.n)
        target = a.target.name

        def keep(r: Reg) -> None:
            skip = self.label()
            self.emit("RGETI", idr.n, r.n, self.layout.field_slot(target, "id"))
            self.emit("IBOX", key.n, idr.n)
            self.emit("MHAS", has.n, hits.n, key.n)
            self.emit("TESTJ", has.n, 0, skip)
            self.emit("LPUSH", out.n, r.n)
            self.emit("MDEL", hits.n, key.n)  # that id is taken: a later table's row of it is not
            self.mark(skip)

        tables = self.doc_tables(target)
        for name in tables:
            self.emit("FGETO", table.n, self.layout.doc_slot(name))
            self.walk_table(table, keep)
        self.free(one, key, idr, has, flag, ids, hits, table)
        if len(tables) > 1:  # rows of several tables: by id, as one table's already are
            lt = T.ListType(a.target)
            by_id = [[self.layout.field_slot(target, "id"), 0]]
            return self.host("seq.order", [(out, lt), K(by_id, T.DYNAMIC)], [lt, T.DYNAMIC], lt)
        return out

    def query_step(self, step, cur: Reg, row_t: T.Type, lt: T.Type) -> Reg:
        if isinstance(step, ast.Traverse):
            return self.traverse(step, cur, row_t)
        if isinstance(step, ast.Where):
            out = self.temp("o")
            self.emit("LNEW", out.n)

            def keep(row: Reg) -> None:
                skip = self.label()
                self.em.rows.append((row_t.name, row))
                self.cond(step.cond, skip, False)
                self.em.rows.pop()
                self.emit("LPUSH", out.n, row.n)
                self.mark(skip)

            self.each_item(cur, row_t, keep, skip_deleted=False)
            return out
        if isinstance(step, ast.WhereAs):
            out = self.temp("o")
            self.emit("LNEW", out.n)
            self.push_scope()
            var = self.declare(step, step.alias, row_t)

            def keep_as(item: Reg) -> None:
                skip = self.label()
                if var is not None:
                    self.unbox(item, row_t, var)
                self.cond(step.cond, skip, False)
                self.emit("LPUSH", out.n, item.n)
                self.mark(skip)

            self.each_item(cur, row_t, keep_as, skip_deleted=False)
            self.pop_scope()
            return out
        if isinstance(step, ast.Rank):
            scores = self.temp("o")
            self.emit("LNEW", scores.n)
            self.push_scope()
            var = self.declare(step, step.alias, row_t)

            def score(item: Reg) -> None:
                if var is not None:
                    self.unbox(item, row_t, var)
                b = self.boxed(step.score, T.DOUBLE)
                self.emit("LPUSH", scores.n, b.n)
                self.free(b)

            self.each_item(cur, row_t, score, skip_deleted=False)
            self.pop_scope()
            threshold = step.threshold if step.threshold is not None else K(float("-inf"), T.DOUBLE)
            out = self.host("seq.rank", [(cur, lt), (scores, T.ListType(T.DOUBLE)), threshold],
                            [lt, T.ListType(T.DOUBLE), T.DOUBLE], lt)
            self.free(scores)
            return out
        if isinstance(step, ast.OrderBy):
            keys = [[self.layout.field_slot(row_t.name, k.field), 1 if k.descending else 0] +
                    ([1] if k.insensitive else []) for k in step.keys]
            return self.host("seq.order", [(cur, lt), K(keys, T.DYNAMIC)], [lt, T.DYNAMIC], lt)
        if isinstance(step, ast.OrderDyn):
            fields = self.info.struct(row_t.name).fields
            slots = {n: self.layout.field_slot(row_t.name, n) for n, f in fields.items() if T.is_orderable(f.type)}
            return self.host("seq.order_dyn", [(cur, lt), K(slots, T.DYNAMIC), step.spec],
                             [lt, T.DYNAMIC, T.STRING], lt)
        if isinstance(step, ast.Materialize):
            return self.host("sequence.toArray/0", [(cur, lt)], [lt], lt)
        if isinstance(step, ast.Unique):
            slot = self.layout.field_slot(row_t.name, step.key) if step.key is not None else -1
            return self.host("seq.unique", [(cur, lt), K(1 if step.last else 0, T.INT), K(slot, T.INT)],
                             [lt, T.INT, T.INT], lt)
        if isinstance(step, ast.MapStep) and isinstance(step.func, ast.Lambda):
            lam = step.func
            self.push_scope()
            var = self.declare(lam, lam.param, row_t)

            def value(item: Reg, d: Reg):
                if var is not None:
                    self.unbox(item, row_t, var)
                return self.expr_as(lam.body, lam.ty, d)

            out = self.map_sequence(cur, value, lam.ty, None)
            self.pop_scope()
            return out
        if isinstance(step, ast.MapStep):
            fn = step.func.ref.target

            def apply(item: Reg, d: Reg):
                arg = item
                if kind_of(row_t) != "o":  # list items are boxed
                    arg = self.temp(row_t)
                    self.unbox(item, row_t, arg)
                r = self.call(self.layout.function_fn(fn.symbol or fn.name), [(arg, row_t)], [fn.params[0][1]], fn.returns, d)
                if arg is not item:
                    self.free(arg)
                return r

            return self.map_sequence(cur, apply, fn.returns, None)
        if isinstance(step, ast.Reduce):
            return self.reduce_step(step, cur, row_t, lt)
        if isinstance(step, ast.Limit):
            return self.host("seq.limit", [(cur, lt), step.count], [lt, T.INT], lt)
        if isinstance(step, ast.Offset):
            return self.host("seq.offset", [(cur, lt), step.count], [lt, T.INT], lt)
        return self.host("seq.shuffle", [(cur, lt)], [lt], lt)

    def reduce_step(self, step: ast.Reduce, cur: Reg, row_t: T.Type, lt: T.Type) -> Reg:
        """`reduce on f [via g]`: the rows grouped by field f (groups in the order
        their first row comes), each group a list, or g of it."""
        slot = self.layout.field_slot(row_t.name, step.field)
        groups = self.host("seq.group", [(cur, lt), K(slot, T.INT)], [lt, T.INT], T.ListType(T.DYNAMIC))
        if step.func is None:
            return self.host("seq.group_map", [(groups, T.DYNAMIC)], [T.DYNAMIC], T.DYNAMIC)
        lam = step.func if isinstance(step.func, ast.Lambda) else None
        fn = lam if lam is not None else step.func.ref.target
        out = self.temp("o")
        self.emit("MNEW", out.n)
        key, rows = self.temp("o"), self.temp("o")
        k0, k1 = self.temp("i"), self.temp("i")
        self.emit("ILOADI", k0.n, 0)
        self.emit("ILOADI", k1.n, 1)
        if lam is not None:  # `via @lambda g: expr`: expr with g each group
            self.push_scope()
            var = self.declare(lam, lam.param, lt)

        def each(pair: Reg) -> None:
            self.emit("LGET", key.n, pair.n, k0.n)
            self.emit("LGET", rows.n, pair.n, k1.n)
            val = self.temp(fn.returns)
            if lam is None:
                self.call(self.layout.function_fn(fn.symbol or fn.name), [(rows, lt)], [fn.params[0][1]],
                          fn.returns, val)
            else:
                if var is not None:
                    self.em.move(var, rows)
                self.expr_as(lam.body, lam.ty, val)
            if kind_of(fn.returns) != "o":
                boxed = self.temp("o")
                self.box(val, fn.returns, boxed)
                self.emit("MPUT", out.n, key.n, boxed.n)
                self.free(boxed)
            else:
                self.emit("MPUT", out.n, key.n, val.n)
            self.free(val)

        self.each_item(groups, T.DYNAMIC, each, skip_deleted=False)
        if lam is not None:
            self.pop_scope()
        self.free(key, rows, k0, k1, groups)
        return out
