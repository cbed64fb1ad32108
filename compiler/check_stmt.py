"""Statement checking: locals and scopes, assignment targets, control flow,
and the permissions of the body (abort, transition, await, destroy)."""
from __future__ import annotations

from . import ast
from . import types as T
from .check_base import a, did_you_mean
from .docinfo import FieldInfo, LocalVar

COMPOUND = {"+=": "+", "-=": "-", "*=": "*"}


def is_holder_write(e) -> bool:
    """`h.write()` of a holder<M> field: the field itself (language.md 3.9.1)."""
    return isinstance(e, ast.Call) and getattr(e.ref, "kind", None) == "holder_write"


def case_key(e: ast.Expr):
    """A hashable constant for duplicate-case detection, or None."""
    if isinstance(e, ast.IntLit):
        return ("int", e.value)
    if isinstance(e, ast.Unary) and e.op == "-" and isinstance(e.operand, ast.IntLit):
        return ("int", -e.operand.value)
    if isinstance(e, ast.StringLit):
        return ("str", e.value)
    if isinstance(e, ast.EnumValue):
        return ("enum", e.enum, e.value)
    if isinstance(e, ast.BoolLit):
        return ("bool", e.value)
    return None


class StmtChecker:
    # ------------------------------------------------------------ blocks

    def block(self, b: ast.Block, new_scope: bool = True) -> None:
        if new_scope:
            self.scope.push()
        try:
            dead_reported = False
            ended = False
            for s in b.body:
                if ended and not dead_reported:
                    self.err("E0406", "this code can never run", s.span,
                             "remove it, or move it before the statement that ends the block")
                    dead_reported = True
                self.stmt(s)
                if isinstance(s, (ast.Return, ast.Abort, ast.BlockState)) or (
                    isinstance(s, ast.Break) and self.scope.breakables
                ) or (isinstance(s, ast.Continue) and self.scope.loops):
                    ended = True
        finally:
            if new_scope:
                self.scope.pop()

    def stmt(self, s: ast.Stmt) -> None:
        method = getattr(self, "s_" + type(s).__name__, None)
        if method is None:
            self.err("E0901", f"statement {type(s).__name__} is not supported yet", s.span)
            return
        method(s)

    def terminates(self, s) -> bool:
        """Does control never fall off the end of `s`?"""
        if isinstance(s, (ast.Return, ast.Abort, ast.BlockState)):
            return True
        if isinstance(s, ast.Block):
            return any(self.terminates(x) for x in s.body)
        if isinstance(s, ast.If):
            return s.otherwise is not None and self.terminates(s.then) and self.terminates(s.otherwise)
        if isinstance(s, ast.While):
            return isinstance(s.cond, ast.BoolLit) and s.cond.value and not self.breaks(s.body)
        if isinstance(s, ast.DoWhile):
            return self.terminates(s.body) and not self.breaks(s.body)
        if isinstance(s, ast.Switch):
            # Cases fall through, so every path ends in the last case's body;
            # a `break` anywhere leaves the switch instead.
            has_default = any(c.value is None for c in s.cases)
            return (
                has_default
                and any(self.terminates(x) for x in s.cases[-1].body)
                and not any(self.breaks(x) for c in s.cases for x in c.body)
            )
        return False

    def breaks(self, s) -> bool:
        """Does `s` contain a `break` that leaves the loop being analysed?"""
        if isinstance(s, ast.Break):
            return True
        if isinstance(s, ast.Block):
            return any(self.breaks(x) for x in s.body)
        if isinstance(s, ast.If):
            return self.breaks(s.then) or (s.otherwise is not None and self.breaks(s.otherwise))
        return False  # loops and switches own the breaks inside them

    # ------------------------------------------------------------ locals

    def declare(self, name: str, t: T.Type, span, kind: str = "local", node=None) -> LocalVar:
        if self.scope.lookup(name) is not None:
            self.err("E0211", f"'{name}' is already a local variable here", span,
                     "pick another name; locals may not shadow each other")
        var = LocalVar(name, t, kind, node)
        self.scope.declare(var)
        return var

    def in_state(self, s: ast.Stmt, what: str) -> bool:
        if not self.rules.await_:  # only #state blocks (and the states they invoke) may wait
            self.err("E0409", f"`{what}` is not allowed in {self.rules.what}", s.span,
                     f"{what} acts on a state block that waits; use it only in #state blocks")
            return False
        return True

    def s_Preempt(self, s: ast.Preempt) -> None:
        self.in_state(s, "preempt")
        t = self.expr(s.target)
        if not T.is_error(t) and t != T.LABEL:
            self.err("E0301", f"preempt needs a state label like #name, found {t}", s.target.span)

    def s_BlockState(self, s: ast.BlockState) -> None:
        self.in_state(s, "block")

    def s_RequireGuard(self, s: ast.RequireGuard) -> None:
        for name in s.policies:
            if name not in self.info.policies:
                self.err("E0210", f"unknown policy '{name}' in requires<{name}>", s.span,
                         did_you_mean(name, self.info.policies) or "declare it with `policy name { ... }`")

    def s_VarDecl(self, s: ast.VarDecl) -> None:
        span = s.name_span if s.name_span.end > s.name_span.start else s.span
        if s.type is not None:
            t = self.local_type(s.type)
            if s.value is not None:
                got = self.expr(s.value, t)
                if not self.assignable(got, t):
                    self.err("E0301", f"'{s.name}' is {t}, but the value is {got}", s.value.span,
                             self.conversion_hint(got, t))
        elif s.value is None:
            t = self.err("E0312", f"cannot tell the type of '{s.name}' without a value", span,
                         f"write `T {s.name};` or give it a value")
        else:
            t = self.expr(s.value)
            if t == T.VOID:
                t = self.err("E0312", f"'{s.name}' gets no value: the call returns nothing", s.value.span)
            elif isinstance(t, T.LibraryType):
                t = self.err("E0312", f"'{s.name}' cannot hold the library {t.name}", s.value.span)
        var = self.declare(s.name, t, span, "local", s)
        if awaited(s.value):
            # As in Adama, what an await gives is read-only: the answer a person sent.
            var.mutable = False
            var.kind = "awaited"
        if s.readonly:
            var.mutable = False
            if s.value is None:
                self.err("E0312", f"readonly '{s.name}' needs a value", span,
                         f"write `readonly T {s.name} = value;`")

    # ------------------------------------------------------------ assignment

    def root_ref(self, e: ast.Expr):
        while isinstance(e, (ast.FieldAccess, ast.Index)) or is_holder_write(e):
            e = e.func.obj if isinstance(e, ast.Call) else e.obj
        return getattr(e, "ref", None) if isinstance(e, ast.Name) else None

    def need_write(self, what: str, span, root=None) -> bool:
        r = self.rules
        if r.tool is not None:
            return self.tool_write(what, span, root)
        if r.writes_doc:
            return True
        if r.pure or not r.reads_doc:
            hint = "functions are pure; use a procedure to change the document" if r.pure else None
            self.err("E0318", f"{r.what} cannot change {what}", span, hint)
        else:
            hint = "remove `readonly` to let it write" if ("procedure" in r.what or "method" in r.what) else None
            self.err("E0317", f"{r.what} only reads the document and cannot change {what}", span, hint)
        return False

    def tool_write(self, what: str, span, root) -> bool:
        """A write in an agent's tool (language.md 4.31): a `tool` writes
        nothing; a `mutating tool` writes only the agent's mutable fields."""
        agent, mutating, mutables = self.rules.tool
        if not mutating:
            self.err("E0542", f"{self.rules.what} cannot change {what}: a tool only reads the document", span,
                     f"declare it `mutating tool` to write one of {agent}'s `mutable` fields; the document "
                     "changes through its channels")
            return False
        if root is None or root.kind != "record_field" or root.name not in mutables:
            listed = ", ".join(mutables) or "none declared"
            self.err("E0543", f"{self.rules.what} cannot change {what}: a mutating tool writes only the "
                     f"agent's mutable fields ({listed})", span,
                     f"declare `mutable T name;` in agent {agent} and write that")
            return False
        return True

    def lvalue(self, e: ast.Expr, verb: str = "assign") -> T.Type:
        """Check an assignment target; returns the type a value must fit."""
        if isinstance(e, ast.Name):
            t = self.expr(e)
            ref = e.ref
            if T.is_error(t) or ref is None:
                return t
            if ref.kind == "local":
                if getattr(ref.target.node, "readonly", False):
                    return self.err("E0317", f"'{e.id}' is readonly", e.span,
                                    "a readonly local or parameter keeps the value it started with")
                if ref.target.kind == "awaited":
                    return self.err("E0317", f"'{e.id}' holds an awaited result, which is read-only", e.span,
                                    "copy the values you need into other locals")
                if not ref.target.mutable:
                    return self.err("E0310", f"cannot {verb} parameter '{e.id}'", e.span,
                                    "handler parameters are read-only; copy it into a local")
                return t
            if ref.kind in ("field", "record_field"):
                f: FieldInfo = ref.target
                self.need_write(f"'{e.id}'", e.span, ref)
                if f.readonly and not (self.rules.construct and ref.kind == "field"):
                    self.err("E0317", f"'{e.id}' is readonly", e.span,
                             "readonly fields are set by their default or in @construct")
                return t
            return self.err("E0310", f"cannot {verb} {ref.kind} '{e.id}'", e.span,
                            "formulas and bubbles are computed; change the fields they read"
                            if ref.kind in ("formula", "bubble") else None)
        if isinstance(e, ast.FieldAccess):
            obj = self.expr(e.obj)
            span = e.name_span if e.name_span.end > e.name_span.start else e.span
            if T.is_error(obj):
                e.ty = T.ERROR
                return T.ERROR
            t = self.member(obj, e.name, span, e)
            e.ty = t
            if T.is_error(t):
                return t
            owner = T.element_of(obj) if T.is_sequence(obj) else obj
            s = self.info.struct(owner.name) if isinstance(owner, (T.RecordType, T.MessageType)) else None
            if s is None or e.name not in s.fields:
                return self.err("E0310", f"cannot {verb} '{e.name}'", span)
            if T.is_sequence(obj) and not isinstance(owner, T.RecordType):
                return self.err("E0310", f"cannot {verb} '{e.name}' across {a(obj)}", span,
                                "bulk assignment works on table rows, e.g. (iterate t where ...).f = v")
            root = self.root_ref(e.obj)
            if root is not None and root.kind == "local" and getattr(root.target.node, "readonly", False):
                return self.err("E0317", f"cannot {verb} a field of readonly '{root.name}'", span)
            if root is not None and root.kind == "local" and root.target.kind == "awaited":
                return self.err("E0317", f"cannot {verb} a field of '{root.name}': it holds an awaited result, "
                                "which is read-only", span)
            if root is not None and root.kind == "local" and not root.target.mutable:
                return self.err("E0310", f"cannot {verb} a field of parameter '{root.name}'", span,
                                "handler parameters are read-only; copy it into a local")
            f = s.fields[e.name]
            if isinstance(owner, T.RecordType):
                self.need_write(f"field '{e.name}' of {a(owner)} row", span, root)
                if f.readonly:
                    self.err("E0317", f"field '{e.name}' of {owner} is readonly", span)
            if T.is_sequence(obj):
                return f.type  # bulk assignment: each row's field gets the value
            return t
        if isinstance(e, ast.Index):
            e.ty = self.x_Index(e, None)
            obj = e.obj.ty
            if T.is_error(obj):
                return T.ERROR
            if isinstance(obj, T.MapType):
                ref = self.root_ref(e.obj)
                if ref is not None and ref.kind in ("field", "record_field"):
                    self.need_write("a map field", e.span, ref)
                return T.strip_maybe(e.ty) if e.index2 is not None else obj.value
            return self.err("E0310", f"cannot {verb} an item of {a(obj)}", e.span,
                            "lists and arrays are read-only views")
        self.expr(e)
        return self.err("E0310", f"cannot {verb} this expression", e.span)

    def s_Assign(self, s: ast.Assign) -> None:
        target = self.lvalue(s.target)
        if s.op == "=":
            got = self.expr(s.value, target)
            if not self.assignable(got, target):
                self.err("E0301", f"cannot assign {got} to {target}", s.value.span,
                         self.conversion_hint(got, target))
            return
        got = self.expr(s.value)
        if T.is_error(target) or T.is_error(got):
            return
        op = COMPOUND.get(s.op)
        if op is None:
            self.err("E0302", f"unknown assignment operator '{s.op}'", s.span)
        elif op == "+" and target == T.STRING:
            return
        elif T.is_numeric(target) and T.is_numeric(got) and T.widens(got, target):
            return
        elif op == "+" and target == T.TIMESPAN and got == T.TIMESPAN:
            return
        elif target == T.COMPLEX and (got == T.COMPLEX or T.is_numeric(got)):
            return  # z += w (language.md 3.12)
        else:
            hint = "narrowing needs a library call such as Math.toInt(...)" \
                if T.is_numeric(target) and T.is_numeric(got) else None
            self.err("E0302", f"cannot apply '{s.op}' to {target} and {got}", s.span, hint)

    def s_ExprStmt(self, s: ast.ExprStmt) -> None:
        self.expr(s.expr)

    def s_Ingest(self, s: ast.Ingest) -> None:
        tt = self.expr(s.target)
        row = None
        if isinstance(tt, T.TableType):
            row = tt.record
            # Every table is document state, a table parameter too.
            ref = self.root_ref(s.target)
            self.need_write("a table", s.span, ref)
            if ref is not None and ref.kind == "field" and ref.target.readonly and not self.rules.construct:
                self.err("E0317", f"table '{ref.name}' is readonly", s.span,
                         "a readonly table is filled by @construct only")
        elif isinstance(tt, T.NativeTableType):  # a local table of messages (language.md 3.7.1)
            ref = self.root_ref(s.target)
            if ref is None or ref.kind != "local" or not isinstance(s.target, ast.Name):
                self.err("E0307", f"insert into a local table<{tt.element}> by its name", s.target.span)
            elif s.as_name:
                self.err("E0313", f"`as {s.as_name}` names a row id, and a table of messages has none", s.span)
            row = tt.element
        elif isinstance(tt, T.RecordType):  # into one record (language.md 6.3)
            return self.ingest_record(s, tt)
        elif isinstance(tt, T.MapType):  # a map's entries into a map (language.md 6.3)
            self.need_write("a map", s.span, self.root_ref(s.target))
            got = self.expr(s.value, tt)
            if not T.is_error(got) and not self.ingests(got, tt):
                self.err("E0301", f"cannot ingest {got} into {tt}", s.value.span)
            if s.as_name:
                self.err("E0313", f"`as {s.as_name}` names a new row's id; ingesting into a map makes none", s.span)
            return
        elif not T.is_error(tt):
            self.err("E0307", f"can only insert into a table or a record, not {tt}", s.target.span,
                     "declare `table<R> name;` and insert records or {...} objects")
        many = False
        if row is None:
            self.expr(s.value)
        else:
            if isinstance(s.value, ast.ArrayLit):
                got = self.expr(s.value, T.ArrayType(row))
            else:
                got = self.expr(s.value, row)
            item = got
            if T.is_sequence(got):
                many = True
                item = T.element_of(got)
            self.check_row_value(item, row, s.value)
        if s.as_name:
            if many:
                self.err("E0313", f"`as {s.as_name}` names the id of one new row, but this inserts a list",
                         s.value.span, "insert one value at a time to learn each id")
            self.declare(s.as_name, T.INT, s.span, "as", s)

    def ingest_record(self, s: ast.Ingest, rt: T.RecordType) -> None:
        """`r <- value;` into a record field or row: the value's fields are
        written into the record's (language.md 6.3)."""
        ref = self.root_ref(s.target)
        self.need_write(f"{a(rt)} record", s.span, ref)
        if ref is not None and ref.kind == "field" and ref.target.readonly and not self.rules.construct:
            self.err("E0317", f"'{ref.name}' is readonly", s.span)
        if s.as_name:
            self.err("E0313", f"`as {s.as_name}` names a new row's id; ingesting into a record makes none",
                     s.span)
        got = self.expr(s.value, rt)
        if T.is_sequence(got):
            self.err("E0301", f"cannot ingest {got} into one record", s.value.span,
                     "ingest a list into a table")
            return
        self.check_row_value(got, rt, s.value)

    def ingests(self, src: T.Type, dst: T.Type) -> bool:
        """Whether a value's field of type `src` may be ingested into a record
        field of type `dst` (language.md 6.3): assigned, unwrapped from a maybe
        (set only when present), a message into a record, a map into a map,
        a list of messages into a table."""
        if self.assignable(src, dst):
            return True
        if isinstance(src, T.MaybeType) and not isinstance(dst, T.MaybeType):
            return self.ingests(src.inner, dst)
        if isinstance(dst, T.RecordType) and isinstance(src, (T.RecordType, T.MessageType)):
            return self.fits_fields(src, dst)
        if isinstance(dst, T.MapType) and isinstance(src, T.MapType):
            return src.key == dst.key and (src.value == dst.value or self.ingests(src.value, dst.value))
        if isinstance(dst, T.TableType) and T.is_sequence(src):
            el = T.element_of(src)
            return isinstance(el, (T.RecordType, T.MessageType)) and self.fits_fields(el, dst.record)
        return False

    def fits_fields(self, src: T.Type, dst: T.Type) -> bool:
        have, want = self.fields_of(src) or {}, self.fields_of(dst) or {}
        return all(self.ingests(t, want[n]) for n, t in have.items()
                   if n in want and not (n == "id" and isinstance(src, T.RecordType)))

    def check_row_value(self, item: T.Type, row: T.Type, node: ast.Expr) -> None:
        """A value copied into a new row field by field: every field it has
        must exist in the row and fit it."""
        if T.is_error(item) or item == row:
            return
        if isinstance(item, T.AnonType):
            dst = self.fields_of(row) or {}
            for name, t in item.fields:
                if name not in dst:
                    self.err("E0313", f"{row} has no field '{name}'", node.span, did_you_mean(name, dst))
                elif not self.assignable(t, dst[name]):
                    self.err("E0301", f"field '{name}' is {t} here but {dst[name]} in {row}", node.span)
            return
        if isinstance(item, (T.RecordType, T.MessageType)):
            src = self.fields_of(item) or {}
            dst = self.fields_of(row) or {}
            for name, t in src.items():
                if name == "id" and isinstance(item, T.RecordType):
                    continue  # a row's id is assigned by the table
                if name not in dst:
                    continue  # as in Adama, a field the record lacks is not ingested
                if not self.ingests(t, dst[name]):
                    self.err("E0301", f"field '{name}' is {t} in {item} but {dst[name]} in {row}", node.span)
            return
        self.err("E0301", f"cannot insert {item} into table<{row}>", node.span,
                 f"insert {a(row)}, a {{...}} object with its fields, a message, or a list of them")

    # ------------------------------------------------------------ control flow

    def cond(self, e: ast.Expr, what: str) -> None:
        t = self.expr(e, T.BOOL)
        if what == "if" and t == T.MaybeType(T.BOOL):
            return  # `if (m)` on a maybe<bool>: true when present and true (language.md 6.4)
        if not T.is_error(t) and t != T.BOOL:
            hint = None
            if isinstance(t, T.MaybeType):
                hint = "test a maybe with `if (value as x)` or value.has()"
            elif T.is_numeric(t):
                hint = "compare it, e.g. `x != 0`"
            self.err("E0311", f"the condition of {what} must be a bool, found {t}", e.span, hint)

    def s_If(self, s: ast.If) -> None:
        if s.as_name:
            t = self.expr(s.cond)
            inner = T.ERROR
            if isinstance(t, T.MaybeType):
                inner = t.inner
            elif not T.is_error(t):
                self.err("E0305", f"`if (... as {s.as_name})` needs a maybe, found {t}", s.cond.span,
                         "use a plain `if (condition)` for a bool" if t == T.BOOL else None)
            self.scope.push()
            try:
                self.declare(s.as_name, inner, s.cond.span, "as", s)
                self.block(s.then)
            finally:
                self.scope.pop()
        else:
            self.cond(s.cond, "if")
            self.block(s.then)
        if isinstance(s.otherwise, ast.If):
            self.s_If(s.otherwise)
        elif s.otherwise is not None:
            self.block(s.otherwise)

    def loop_body(self, body: ast.Block) -> None:
        self.scope.loops += 1
        self.scope.breakables += 1
        try:
            self.block(body)
        finally:
            self.scope.loops -= 1
            self.scope.breakables -= 1

    def s_While(self, s: ast.While) -> None:
        self.cond(s.cond, "while")
        self.loop_body(s.body)

    def s_DoWhile(self, s: ast.DoWhile) -> None:
        self.loop_body(s.body)
        self.cond(s.cond, "do-while")

    def s_For(self, s: ast.For) -> None:
        self.scope.push()
        try:
            if s.init is not None:
                self.stmt(s.init)
            if s.cond is not None:
                self.cond(s.cond, "for")
            if s.step is not None:
                self.stmt(s.step)
            self.loop_body(s.body)
        finally:
            self.scope.pop()

    def s_ForEach(self, s: ast.ForEach) -> None:
        t = self.expr(s.iterable)
        if T.is_sequence(t):
            el = T.element_of(t)
        elif isinstance(t, T.TableType):
            el = t.record
        elif isinstance(t, T.MapType):
            el = T.PairType(t.key, t.value)
        elif T.is_error(t):
            el = T.ERROR
        else:
            hint = "unwrap the maybe first" if isinstance(t, T.MaybeType) else \
                "foreach walks lists, arrays, tables and maps"
            el = self.err("E0306", f"cannot loop over {a(t)}", s.iterable.span, hint)
        self.scope.push()
        try:
            self.declare(s.name, el, s.span, "iter", s)
            self.loop_body(s.body)
        finally:
            self.scope.pop()

    def s_Switch(self, s: ast.Switch) -> None:
        t = self.expr(s.subject)
        if not T.is_error(t) and t not in (T.INT, T.STRING, T.LONG) and not isinstance(t, T.EnumType):
            self.err("E0302", f"cannot switch on {a(t)}", s.subject.span, "switch on an int, string or enum")
        seen = set()
        default_seen = False
        self.scope.breakables += 1
        try:
            for c in s.cases:
                if c.value is None:
                    if default_seen:
                        self.err("E0410", "`default` appears twice in this switch", c.span)
                    default_seen = True
                else:
                    ct = self.expr(c.value, t)
                    key = case_key(c.value)
                    if key is None and not T.is_error(ct):
                        self.err("E0301", "a case must be a constant", c.value.span)
                    elif key in seen:
                        self.err("E0410", "this case value appears twice in the switch", c.value.span)
                    elif not self.assignable(ct, t):
                        self.err("E0301", f"case of type {ct} in a switch on {t}", c.value.span)
                    if key is not None:
                        seen.add(key)
                self.block(ast.Block(body=c.body, span=c.span))
        finally:
            self.scope.breakables -= 1

    def s_Break(self, s: ast.Break) -> None:
        if self.scope.breakables == 0:
            self.err("E0403", "`break` outside a loop or switch", s.span)

    def s_Continue(self, s: ast.Continue) -> None:
        if self.scope.loops == 0:
            self.err("E0404", "`continue` outside a loop", s.span)

    def s_Block(self, s: ast.Block) -> None:
        self.block(s)

    def s_Return(self, s: ast.Return) -> None:
        r = self.rules
        want = r.returns
        if s.value is None:
            if want != T.VOID and not T.is_error(want):
                self.err("E0405", f"{r.what} must return {a(want)}", s.span)
            return
        if not r.value_body:
            self.expr(s.value)
            self.err("E0402", f"{r.what} cannot return a value", s.value.span, "use a bare `return;`")
            return
        got = self.expr(s.value, want if want != T.VOID else None)
        if want == T.VOID:
            self.err("E0405", f"{r.what} returns nothing, but this returns {got}", s.value.span,
                     "declare the return type with `-> T`")
        elif not self.assignable(got, want):
            self.err("E0405", f"{r.what} returns {want}, found {got}", s.value.span,
                     self.conversion_hint(got, want))

    def s_Abort(self, s: ast.Abort) -> None:
        r = self.rules
        if not r.abort:
            self.err("E0407", f"`abort` is not allowed in {r.what}", s.span,
                     r.hint_abort or "abort is allowed in channels, state blocks, @construct, @cron "
                     "and `aborts` procedures")

    def s_Transition(self, s: ast.Transition) -> None:
        r = self.rules
        if not r.transition:
            self.err("E0409", f"`transition` is not allowed in {r.what}", s.span,
                     "transition where the document may change: channels, states, handlers, procedures")
        t = self.expr(s.target)
        if not T.is_error(t) and t != T.LABEL:
            self.err("E0301", f"transition needs a state label like #name, found {t}", s.target.span)
        if s.delay is not None:
            d = self.expr(s.delay)
            if not T.is_error(d) and not T.is_numeric(d):
                self.err("E0301", f"the delay must be a number of seconds, found {d}", s.delay.span)

    def s_Invoke(self, s: ast.Invoke) -> None:
        r = self.rules
        if not r.await_:
            self.err("E0409", f"`invoke` is not allowed in {r.what}", s.span,
                     "invoke runs another state's code, which may await; use it only in #state blocks")
        if s.state not in self.info.states:
            self.err("E0206", f"unknown state '#{s.state}'", s.span, self.state_hint(s.state))

    def s_Destroy(self, s: ast.Destroy) -> None:
        r = self.rules
        if not r.destroy:
            self.err("E0412", f"@destroy is not allowed in {r.what}", s.span)

    # ------------------------------------------------------------ the test harness (language.md 4.24)

    def in_test(self, s: ast.Stmt, what: str) -> None:
        if not self.rules.test:
            self.err("E0213", f"`{what}` is only available in test blocks, not in {self.rules.what}", s.span,
                     "the test harness's statements drive a test; a document's own code cannot use them")

    def s_TestStep(self, s: ast.TestStep) -> None:
        self.in_test(s, "@step")

    def s_TestForward(self, s: ast.TestForward) -> None:
        self.in_test(s, "@forward")
        t = self.expr(s.value, T.DOUBLE)
        if not T.is_error(t) and t != T.TIMESPAN and not T.is_numeric(t):
            self.err("E0301", f"@forward takes seconds (a number or a timespan), found {t}", s.value.span)

    def s_TestPump(self, s: ast.TestPump) -> None:
        self.in_test(s, "@pump")
        self._test_delivery(s, "@pump", False, "into", "@pump feeds a channel's asks; '{}' has a handler",
                            "pump into a channel without a handler (one the document fetches from)")

    def s_TestSend(self, s: ast.TestSend) -> None:
        self.in_test(s, "@send")
        t = self.expr(s.who, T.PRINCIPAL)
        if not T.is_error(t) and t != T.PRINCIPAL:
            self.err("E0301", f"@send sends as a principal, found {t}", s.who.span)
        self._test_delivery(s, "@send", True, "to", "@send delivers to a channel's handler; '{}' has none",
                            "send to a channel declared with a handler, or answer an ask with `@pump`")

    def _test_delivery(self, s, verb: str, handler: bool, prep: str, wrong: str, hint: str) -> None:
        """@pump (a channel the document fetches from) and @send (a channel with a
        handler): the channel exists, is of the kind the verb needs, and takes the value."""
        ch = self.info.channels.get(s.channel)
        if ch is None:
            self.expr(s.value)
            self.err("E0208", f"unknown channel '{s.channel}'", s.channel_span,
                     did_you_mean(s.channel, self.info.channels))
            return
        if ch.complete != handler:
            self.expr(s.value)
            self.err("E0509", wrong.format(s.channel), s.channel_span, hint)
            return
        want = T.ArrayType(ch.message) if ch.is_array else ch.message
        got = self.expr(s.value, want)
        if not self.assignable(got, want):
            self.err("E0301", f"{verb} {prep} '{s.channel}' expects {want}, found {got}", s.value.span,
                     self.conversion_hint(got, want))

    def s_TestAborts(self, s: ast.TestAborts) -> None:
        self.in_test(s, "@aborts")
        self.block(s.body)

    def s_Log(self, s: ast.Log) -> None:
        self.in_test(s, "log")
        t = self.expr(s.value, T.STRING)
        if not T.is_error(t) and t != T.STRING:
            self.err("E0301", f"log takes a string, found {t}", s.value.span,
                     "build the line with + or String functions")

    def s_Debug(self, s: ast.Debug) -> None:
        self.check_debug(s)

    def s_Assert(self, s: ast.Assert) -> None:
        self.cond(s.cond, "assert")


def awaited(e) -> bool:
    """Is `e` a call of `.await()` (possibly of a maybe around it)?"""
    return isinstance(e, ast.Call) and isinstance(e.func, ast.FieldAccess) and e.func.name == "await" \
        and getattr(e.ref, "key", None) == "future.await/0"
