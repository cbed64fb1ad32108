"""Declaration pass: collect every top-level and record-level declaration into
the DocumentInfo with resolved types, then check the bodies and the
cross-references (privacy, policies, index hints, handler shapes, crons,
static properties)."""
from __future__ import annotations

import re
from dataclasses import replace

from . import ast
from . import spaces as SP
from . import types as T
from .agents import SETTINGS as AGENT_SETTINGS
from .agents import MAX_TOOL_DESCRIPTION, agent_tool, setting_value
from .ast import VIEWER_MESSAGE
from .check_base import a, did_you_mean, name_span
from .docinfo import (
    AssocInfo, ChannelInfo, CronInfo, EnumInfo, FieldInfo, FormulaInfo, FuncInfo, HandlerInfo, LocalVar,
    PolicyInfo, ServiceInfo, ServiceMethodInfo, StateInfo, StructInfo, WebInfo,
)
from .scope import (
    HANDLER_RULES, Scope, channel_rules, cron_rules, default_rules, function_rules, policy_rules,
    procedure_rules, reader_rules, state_rules, static_rules, test_rules, web_rules, with_record, Rules,
)

# @web (language.md 4.28): the response message every handler returns, its
# body fields (at most one per response) and the limits on a path pattern.
WEB_RESPONSE = "WebResponse"
WEB_BODIES = ("json", "html", "xml", "css", "js", "csv", "error", "redirect", "asset")
WEB_FIELDS = (("json", "dynamic"),) + tuple((b, "string") for b in WEB_BODIES[1:-1]) + (("asset", "asset"),) + (
    ("status", "int"), ("cors", "bool"), ("cache_ttl_seconds", "int"))
WEB_MAX_PATTERN = 256
WEB_FIXED = re.compile(r"[A-Za-z0-9._~-]+")
WEB_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def web_response_decl() -> ast.MessageDecl:
    """`message WebResponse { maybe<T> field; ... }`, added to a document that
    declares @web handlers: each field is empty unless the handler sets it."""
    fields = [ast.FieldDecl(name, ast.TypeRef("maybe", [ast.TypeRef(t)]), ast.Privacy("public", explicit=False))
              for name, t in WEB_FIELDS]
    decl = ast.MessageDecl(WEB_RESPONSE, fields)
    decl.synthetic_web = True
    return decl


# The shortest `@static frequency` (ms) a document may ask for: each wake is a
# logged input of a durable document (spec/language.md 4.23).
MIN_FREQUENCY_MS = 1_000
# `@static` properties: name -> (expected kind, check on the value, what it means).
STATIC_PROPERTIES = {
    "maximum_history": (T.INT, lambda v: v >= 1, "how many past transactions to keep (an int >= 1)"),
    "instruction_budget": (T.INT, lambda v: v >= 1, "instructions one transaction may run (an int >= 1)"),
    "snapshot_every": (T.INT, lambda v: v >= 1, "write a snapshot every N transactions (an int >= 1)"),
    "timezone": (T.STRING, lambda v: bool(v), "the document's IANA time zone, e.g. \"UTC\""),
    "maximum_string_length": (T.INT, lambda v: v >= 1,
                              "the most characters one string may hold (an int >= 1)"),
    "maximum_collection_size": (T.INT, lambda v: v >= 1,
                                "the most items one list, map or table may hold (an int >= 1)"),
    "frequency": (T.INT, lambda v: v >= MIN_FREQUENCY_MS,
                  f"wake the document every N milliseconds (an int >= {MIN_FREQUENCY_MS:,})"),
    "delete_on_close": (T.BOOL, lambda v: True, "delete the document when its last viewer leaves (a bool)"),
}
STATIC_POLICIES = ("create", "invent", "debug")
# Schedules of `@cron`: the values each takes and their ranges.
CRON_SHAPES = {
    "daily": [("hour", 0, 23), ("minute", 0, 59)],
    "hourly": [("minute", 0, 59)],
    "monthly": [("day", 1, 31)],
}
EVENTS = ("construct", "load", "connected", "disconnected", "delete", "can_attach", "attached", "authorize",
          "authorization")


def constant_value(e: ast.Expr):
    """The value of a literal constant (with an optional leading minus), else None."""
    if isinstance(e, ast.Unary) and e.op == "-" and isinstance(e.operand, (ast.IntLit, ast.DoubleLit)):
        return -e.operand.value
    if isinstance(e, (ast.IntLit, ast.DoubleLit, ast.StringLit, ast.BoolLit)):
        return e.value
    return None


class DeclChecker:
    # ============================================================ collection

    def collect_types(self, program: ast.Program) -> None:
        self.joins: list = []  # (record name or None, ast.JoinDecl): linked to their assocs later
        if any(isinstance(d, ast.WebDecl) for d in program.decls) and not any(
                getattr(d, "synthetic_web", False) for d in program.decls):
            program.decls.append(web_response_decl())
        if any(isinstance(d, ast.SpaceDecl) for d in program.decls):
            self.import_spaces(program)
        seen: dict[str, str] = {}
        for d in program.decls:
            if isinstance(d, (ast.RecordDecl, ast.MessageDecl, ast.EnumDecl)):
                kind = {ast.RecordDecl: "record", ast.MessageDecl: "message", ast.EnumDecl: "enum"}[type(d)]
                if d.name in seen or d.name in T.PRIMITIVES or d.name in T.GENERICS:
                    what = seen.get(d.name, "built-in type")
                    self.err("E0204", f"'{d.name}' is already defined as a {what}", name_span(d))
                    continue
                seen[d.name] = kind
                if kind == "enum":
                    self.info.enums[d.name] = EnumInfo(d.name, decl=d)
                elif kind == "record":
                    self.info.records[d.name] = StructInfo(d.name, "record", decl=d)
                else:
                    self.info.messages[d.name] = StructInfo(d.name, "message", decl=d)

    def collect_members(self) -> None:
        for e in self.info.enums.values():
            nxt = 0
            for item in e.decl.items:
                if item.name in e.values:
                    self.err("E0212", f"enum '{e.name}' already has a value '{item.name}'", item.span)
                    continue
                # Two names may share a number (aliases); only names must differ.
                value = item.value if item.value is not None else nxt
                e.values[item.name] = value
                nxt = value + 1
                if item.default:
                    if e.default_name is not None:
                        self.err("E0204", f"enum '{e.name}' already has a @default value, '{e.default_name}'",
                                 item.span, "mark one value @default")
                    else:
                        e.default_name = item.name
        for s in self.info.messages.values():
            for f in s.decl.fields:
                self.add_struct_field(s, f)
                t = s.fields[f.name].type if f.name in s.fields else None
                if t is not None and "asset" in str(t) and not getattr(s.decl, "synthetic_web", False):
                    # A message comes from a client or a service: an asset in it would be a
                    # reference nobody uploaded past @can_attach (language.md 4.29).
                    self.err("E0532", f"message '{s.name}' cannot hold an asset (field '{f.name}'): "
                             "assets come only from uploads", f.span, "keep assets in the document's fields "
                             "and records, set in @attached")
            for m in s.decl.methods:
                if m.name in s.methods or m.name in s.fields:
                    self.err("E0204", f"message '{s.name}' already has a member '{m.name}'", name_span(m))
                    continue
                s.methods[m.name] = self.signature(m, owner=s.name)
        for e in self.info.enums.values():
            if e.decl is not None and not e.decl.items:
                self.err("E0513", f"enum '{e.name}' has no values", name_span(e.decl),
                         "an enum needs at least one value: its default")
        for s in self.info.records.values():
            for m in s.decl.members:
                self.add_record_member(s, m)
            if "id" not in s.fields:
                # Every row has an id the table assigns; declaring it is optional.
                s.fields["id"] = FieldInfo("id", T.INT, "private", readonly=True)
            self.check_was([m for m in s.decl.members if isinstance(m, ast.FieldDecl)],
                           set(s.fields) | set(s.formulas), f"record '{s.name}'")

    def add_struct_field(self, s: StructInfo, f: ast.FieldDecl) -> None:
        if f.name in s.fields or f.name in s.formulas:
            self.err("E0212", f"{s.kind} '{s.name}' already has a field '{f.name}'", name_span(f))
            return
        t = self.resolve_type(f.type)
        self.check_storable(t, f, s.kind)
        if f.name == "id" and s.kind == "record" and not T.is_error(t) and t != T.INT:
            self.err("E0301", f"a record's 'id' is its row id and must be an int, not {t}", f.type.span)
            t = T.INT
        if s.kind == "message" and f.privacy.explicit and f.privacy.kind != "private":
            self.err(
                "E0505", f"message fields have no privacy ('{f.privacy.kind}' on '{f.name}')", f.privacy.span,
                "remove the privacy modifier; messages are only seen by the code that receives them",
            )
        if f.was and s.kind == "message":
            self.err("E0214", f"`@was` belongs to a document or record field, not to message '{s.name}'",
                     f.span, "a message is what clients send: rename a message field in two steps")
        for flag in f.flags:
            allowed = {"message": ("lossy", "unique", "@silent"), "record": ("required",)}.get(s.kind, ())
            if flag not in allowed or (flag == "unique" and f.name != "id"):
                where = "an id field of a message" if flag == "unique" else \
                    ("a message field" if flag in ("lossy", "@silent") else "a record field")
                self.err("E0321", f"`{flag}` belongs to {where}", f.span)
        # A row's id is its table's: code may read it, never set it (as in Adama).
        readonly = f.readonly or (s.kind == "record" and f.name == "id")
        s.fields[f.name] = FieldInfo(
            f.name, t, f.privacy.kind, list(f.privacy.names), f.default, readonly, f
        )

    def check_was(self, fields: list, declared: set, where: str) -> None:
        """`@was(old, ...)` (spec/runtime.md 9.2): each earlier name is gone from
        this code (a name still declared would make the rename ambiguous) and
        is claimed by one field only."""
        claimed: dict[str, str] = {}
        for f in fields:
            for w in f.was:
                if w.text in declared:
                    self.err("E0214", f"'{f.name}' was '{w.text}', but {where} still declares "
                             f"'{w.text}'", w.span, "an earlier name must be gone from the code that "
                             "renames it; drop the old declaration (an upgrade moves its value)")
                elif w.text in claimed:
                    self.err("E0214", f"'{w.text}' is claimed as an earlier name by both "
                             f"'{claimed[w.text]}' and '{f.name}'", w.span, "one field takes an old value")
                else:
                    claimed[w.text] = f.name

    def add_record_member(self, s: StructInfo, m: ast.Decl) -> None:
        if isinstance(m, ast.FieldDecl):
            self.add_struct_field(s, m)
        elif isinstance(m, (ast.Formula, ast.Bubble)):
            if m.name in s.fields or m.name in s.formulas:
                self.err("E0212", f"record '{s.name}' already has a member '{m.name}'", name_span(m))
                return
            bubble = isinstance(m, ast.Bubble)
            priv = m.privacy if not bubble else None
            kind, names = (priv.kind, list(priv.names)) if priv else ("public", [])
            if bubble and m.guard:  # bubble<p, q>: shown to the viewers every policy admits
                kind, names = "use_policy", list(m.guard)
            s.formulas[m.name] = FormulaInfo(
                m.name, m.value, privacy=kind, privacy_names=names, bubble=bubble, owner=s.name, decl=m,
            )
        elif isinstance(m, ast.Function):
            if m.name in s.methods:
                self.err("E0204", f"record '{s.name}' already has a method '{m.name}'", name_span(m))
                return
            s.methods[m.name] = self.signature(m, owner=s.name)
        elif isinstance(m, ast.Policy):
            if m.name in s.policies:
                self.err("E0204", f"record '{s.name}' already has a policy '{m.name}'", name_span(m))
                return
            s.policies[m.name] = PolicyInfo(m.name, s.name, m)
        elif isinstance(m, ast.Require):
            s.requires.append(m.policy)
        elif isinstance(m, ast.IndexHint):
            s.indexes.append(m.field)
        elif isinstance(m, ast.JoinDecl):
            self.joins.append((s.name, m))
        elif isinstance(m, ast.Unsupported):
            self.unsupported(m)

    # ------------------------------------------------------------ graphs (language.md 4.25)

    def collect_assoc(self, d: ast.AssocDecl) -> None:
        info = self.info
        if d.name in info.assocs or d.name in info.fields:
            self.err("E0204", f"'{d.name}' is already defined", d.name_span)
            return
        ends = []
        for name, span in ((d.source, d.source_span), (d.target, d.target_span)) + \
                (((d.edge, d.span),) if d.edge else ()):
            if name in info.records:
                ends.append(T.RecordType(name))
            elif name in info.messages or name in info.enums:
                ends.append(self.err("E0507", f"an assoc links records, not {name}", span,
                                     f"declare '{name}' as a record kept in a table"))
            else:
                ends.append(self.err("E0202", f"unknown type '{name}'", span,
                                     did_you_mean(name, list(info.records))))
        info.assocs[d.name] = AssocInfo(d.name, ends[0], ends[1], d)

    def link_joins(self) -> None:
        """Each join to its assoc, through a table of the record (or document) that declares it."""
        info = self.info
        for owner, d in self.joins:
            a = info.assocs.get(d.assoc)
            if a is None:
                self.err("E0201", f"unknown assoc '{d.assoc}'", d.assoc_span,
                         did_you_mean(d.assoc, info.assocs) or "declare it with `assoc<From, To> name;`")
                continue
            fields = info.records[owner].fields if owner else info.fields
            f = fields.get(d.table)
            where = f"record '{owner}'" if owner else "the document"
            if f is None:
                self.err("E0203", f"{where} has no table '{d.table}'", d.table_span, did_you_mean(d.table, fields))
                continue
            if T.is_error(f.type):
                continue
            if not isinstance(f.type, T.TableType):
                self.err("E0307", f"a join walks a table, and '{d.table}' is {f.type}", d.table_span)
                continue
            a.joins.append((owner, d))

    def check_joins(self) -> None:
        """A join's `from` and `to` are ids (ints), read with the item (and, in a
        record, the record's fields) in scope; like formulas, they change nothing."""
        info = self.info
        for a in info.assocs.values():
            for owner, d in a.joins:
                rec = info.records[owner] if owner else None
                fields = rec.fields if rec else info.fields
                scope = Scope()
                scope.declare(LocalVar(d.item, fields[d.table].type.record, "as", d, mutable=False))
                rules = reader_rules(f"join {a.name}", record=rec)
                with self.body(rules, scope):
                    for e, what in ((d.source, "from"), (d.target, "to")):
                        t = self.expr(e, T.INT)
                        if not T.is_error(t) and t != T.INT:
                            self.err("E0301", f"a join's `{what}` is a row id (an int), found {t}", e.span)

    def mark_viewer_bubbles(self) -> None:
        """Which records' bubbles take the viewer's state (language.md 4.9.1): those
        that read @viewer, a document bubble, or a record bubble that takes it."""
        info = self.info
        if VIEWER_MESSAGE not in info.messages:
            return
        bubbles = [fo for s in info.records.values() for fo in s.formulas.values() if fo.bubble]

        def takes(fo) -> bool:
            for n in ast.walk(fo.value):
                if isinstance(n, ast.Special) and n.name == "viewer":
                    return True
                ref = getattr(n, "ref", None)
                if isinstance(n, ast.Name) and ref is not None and ref.kind in ("bubble", "formula"):
                    target = ref.target
                    if ref.kind == "bubble" or (target.bubble and target.viewer):
                        return True
                if isinstance(n, ast.FieldAccess) and isinstance(n.obj.ty, T.RecordType) or (
                        isinstance(n, ast.FieldAccess) and T.is_sequence(n.obj.ty)
                        and isinstance(T.element_of(n.obj.ty), T.RecordType)):
                    rt = n.obj.ty if isinstance(n.obj.ty, T.RecordType) else T.element_of(n.obj.ty)
                    other = info.records[rt.name].formulas.get(n.name) if rt.name in info.records else None
                    if other is not None and other.bubble and other.viewer:
                        return True
            return False

        changed = True
        while changed:  # a bubble reading one that takes the state takes it too
            changed = False
            for fo in bubbles:
                if not fo.viewer and takes(fo):
                    fo.viewer = changed = True

    def check_storable(self, t: T.Type, f: ast.FieldDecl, where: str) -> None:
        inner = T.element_of(t) or T.strip_maybe(t)
        if isinstance(t, T.NativeTableType) or isinstance(inner, T.NativeTableType):
            nt = t if isinstance(t, T.NativeTableType) else inner
            span = f.type.args[0].span if isinstance(f.type, ast.TypeRef) and f.type.args else f.type.span
            self.err("E0507", f"a {where} field's table holds records, not {nt.element}", span,
                     f"declare '{nt.element}' as a record to keep it in a table; a table of a message "
                     "is a local (language.md 3.7.1)")
            return
        if isinstance(t, T.PairType) or isinstance(inner, T.PairType) or \
                (isinstance(t, T.MapType) and isinstance(t.value, T.PairType)):
            self.err("E0321", f"a {where} field cannot hold {t}: pairs live in locals, parameters and results",
                     f.type.span, "store a map, or a record with the two fields")
            return
        if where == "message":
            bad = (T.RecordType, T.TableType, T.MapType, T.FutureType, T.ChannelType)
            if isinstance(t, T.MapType):  # a map of plain data, as in Adama (language.md 4.5)
                inner = T.element_of(t.value) or T.strip_maybe(t.value)
                t = t.value
            if isinstance(t, bad) or isinstance(inner, bad):
                hint = "use a message type instead" if isinstance(inner, T.RecordType) else None
                self.err("E0321", f"a message field cannot hold {t}; messages carry plain data",
                         f.type.span, hint)
        elif isinstance(t, (T.FutureType, T.ChannelType)) or isinstance(inner, (T.FutureType, T.ChannelType)):
            self.err("E0321", f"a {where} field cannot hold {t}", f.type.span,
                     "futures live only in locals of #state blocks")

    def signature(self, f: ast.Function, owner: str | None = None) -> FuncInfo:
        params = []
        seen = set()
        for p in f.params:
            if p.name in seen:
                self.err("E0204", f"parameter '{p.name}' is declared twice", p.span)
            seen.add(p.name)
            params.append((p.name, self.param_type(p.type)))
        returns = self.resolve_type(f.returns) if f.returns is not None else T.VOID
        if f.kind == "function" and f.returns is None:
            self.err(
                "E0401", f"function '{f.name}' must declare what it returns", name_span(f),
                "write `function f(...) -> T`, or make it a procedure",
            )
            returns = T.ERROR
        if f.kind == "function" and (f.readonly or f.aborts):
            self.err(
                "E0318", f"function '{f.name}' cannot be `{'readonly' if f.readonly else 'aborts'}`",
                name_span(f), "functions are always pure; use a procedure",
            )
        return FuncInfo(f.name, f.kind, params, returns, f.readonly, f.aborts, owner, f)

    def collect_document(self, program: ast.Program) -> None:
        info = self.info
        values: dict[str, str] = {}  # document names: fields, formulas, bubbles, channels

        def claim(name: str, what: str, node) -> bool:
            if name in values:
                self.err("E0204", f"'{name}' is already defined as a {values[name]}", name_span(node))
                return False
            values[name] = what
            return True

        for d in program.decls:
            if isinstance(d, ast.FieldDecl):
                for flag in d.flags:
                    if flag != "required":
                        self.err("E0321", f"`{flag}` belongs to a message field", d.span)
                if claim(d.name, "field", d):
                    t = self.resolve_type(d.type)
                    self.check_storable(t, d, "document")
                    info.fields[d.name] = FieldInfo(
                        d.name, t, d.privacy.kind, list(d.privacy.names), d.default, d.readonly, d
                    )
            elif isinstance(d, ast.Formula):
                if claim(d.name, "formula", d):
                    info.formulas[d.name] = FormulaInfo(
                        d.name, d.value, privacy=d.privacy.kind, privacy_names=list(d.privacy.names), decl=d
                    )
            elif isinstance(d, ast.Bubble):
                if claim(d.name, "bubble", d):
                    # bubble<p, q>: shown to the viewers every policy admits (4.9)
                    info.formulas[d.name] = FormulaInfo(d.name, d.value, privacy="use_policy" if d.guard else "public",
                                                        privacy_names=list(d.guard), bubble=True, decl=d)
            elif isinstance(d, ast.Channel):
                if claim(d.name, "channel", d):
                    self.collect_channel(d)
            elif isinstance(d, ast.Function):
                if d.kind == "method":
                    self.err("E0502", "methods belong inside a record", name_span(d),
                             "use a procedure at the document level")
                elif d.name in info.functions and info.functions[d.name].kind == d.kind:
                    self.add_overload(d)
                elif claim(d.name, d.kind, d):
                    info.functions[d.name] = self.signature(d)
            elif isinstance(d, ast.Dispatch):
                self.collect_dispatch(d)
            elif isinstance(d, ast.Metric):
                if d.name in self.metrics:
                    self.err("E0204", f"metric '{d.name}' is already defined", name_span(d))
                self.metrics[d.name] = d
            elif isinstance(d, ast.Policy):
                # a filter is kept as the policy `|name`: guards name it after `|` (4.10.1)
                key = "|" + d.name if d.filter else d.name
                if key in info.policies:
                    what = "filter" if d.filter else "policy"
                    self.err("E0204", f"{what} '{d.name}' is already defined", name_span(d))
                else:
                    info.policies[key] = PolicyInfo(key, None, d)
            elif isinstance(d, ast.StateBlock):
                if d.name in info.states:
                    self.err("E0204", f"state '#{d.name}' is already defined", name_span(d))
                else:
                    info.states[d.name] = StateInfo(d.name, d)
            elif isinstance(d, ast.Handler):
                self.collect_handler(d)
            elif isinstance(d, ast.Cron):
                self.collect_cron(d)
            elif isinstance(d, ast.Static):
                self.collect_static(d)
            elif isinstance(d, ast.TestDecl):
                if d.name in info.tests:
                    self.err("E0204", f"test '{d.name}' is already defined", d.span)
                else:
                    info.tests[d.name] = d
            elif isinstance(d, ast.Unsupported):
                self.unsupported(d)
            elif isinstance(d, ast.WebDecl):
                self.collect_web(d)
            elif isinstance(d, ast.ServiceDecl):
                if claim(d.name, "service", d):
                    self.collect_service(d)
            elif isinstance(d, ast.SpaceDecl):
                if d.name in getattr(self, "contracts", {}) and claim(d.name, "space", d):
                    self.collect_space(d)
            elif isinstance(d, ast.AgentDecl):
                self.collect_agent(d)
            elif isinstance(d, ast.Require):
                self.err("E0505", "`require` belongs inside a record", d.span)
            elif isinstance(d, ast.IndexHint):
                self.err("E0508", "`index` belongs inside a record", d.span)
            elif isinstance(d, ast.AssocDecl):
                self.collect_assoc(d)
            elif isinstance(d, ast.TemplateDecl):
                if d.name in info.templates:
                    self.err("E0204", f"template '{d.name}' is already defined", d.name_span)
                else:
                    info.templates[d.name] = d
            elif isinstance(d, ast.JoinDecl):
                self.joins.append((None, d))
        self.check_was([d for d in program.decls if isinstance(d, ast.FieldDecl)], set(values), "the document")
        construct = next((h for h in info.handlers["construct"].all if h.param is not None), None) \
            if "construct" in info.handlers else None
        invent = info.static.policies.get("invent")
        if invent is not None and construct is not None and construct.param is not None:
            # An invented document is made by a connection, which brings no argument.
            self.err("E0502", "@construct cannot take an argument when documents may be invented",
                     construct.decl.span, "an `invent` policy creates documents with no argument; "
                     "drop the parameter or the `invent` policy")

    def collect_dispatch(self, d: ast.Dispatch) -> None:
        en = self.info.enums.get(d.enum)
        if en is None:
            self.err("E0202", f"unknown enum '{d.enum}'", d.span, did_you_mean(d.enum, self.info.enums))
            return
        if d.pattern != "*" and not d.pattern.endswith("*") and d.pattern not in en.values:
            self.err("E0207", f"enum '{d.enum}' has no value '{d.pattern}'", d.span,
                     did_you_mean(d.pattern, en.values))
            return
        params = []
        for p in d.params:
            params.append((p.name, self.local_type(p.type)))
        returns = self.resolve_type(d.returns) if d.returns is not None else T.VOID
        group = en.dispatchers.setdefault(d.name, [])
        fn = FuncInfo(d.name, "function", params, returns, decl=d,
                      symbol=f"dispatch.{d.enum}.{d.name}#{len(group)}")
        if group:
            first = group[0][1]
            if [t for _, t in first.params] != [t for _, t in params] or first.returns != returns:
                self.err("E0301", f"every dispatch of {d.enum}.{d.name} takes the same parameters and gives the "
                         "same type", name_span(d))
                return
        group.append((d.pattern, fn))

    def dispatch_table(self, en, name: str) -> dict | None:
        """value -> the dispatcher of `name` for it: an exact value beats a prefix,
        a longer prefix a shorter one, `*` comes last. None (and a diagnostic)
        when a value has none or two of the same rank."""
        table: dict = {}
        group = en.dispatchers[name]
        first = group[0][1].decl
        ok = True
        for value in en.values:
            best, rank, tied = None, -1, False
            for pattern, fn in group:
                if pattern == value:
                    r = 10_000
                elif pattern.endswith("*") and value.startswith(pattern[:-1]):
                    r = len(pattern) - 1
                else:
                    continue
                if r > rank:
                    best, rank, tied = fn, r, False
                elif r == rank:
                    tied = True
            if best is None:
                self.err("E0514", f"dispatch {en.name}.{name} has no case for {en.name}::{value}", name_span(first),
                         f"add `dispatch {en.name}::{value} {name}(...)` or a wider `{en.name}::*`")
                ok = False
            elif tied:
                self.err("E0204", f"two dispatches of {en.name}.{name} both fit {en.name}::{value}", name_span(first))
                ok = False
            else:
                table[value] = best
        return table if ok else None

    def add_overload(self, d: ast.Function) -> None:
        """Another function (or procedure) of a name, as Adama allows: its parameter
        types must differ from every other of the name."""
        sig = self.signature(d)
        same = [self.info.functions[d.name]] + self.info.overloads.get(d.name, [])
        want = [t for _, t in sig.params]
        for other in same:
            if [t for _, t in other.params] == want:
                self.err("E0204", f"{d.kind} '{d.name}' is already defined with these parameters", name_span(d),
                         "overloads of one name must differ in their parameter types")
                return
        group = self.info.overloads.setdefault(d.name, [])
        sig.symbol = f"{d.name}#{len(group) + 1}"
        group.append(sig)

    def check_guard(self, fo: FormulaInfo, policies) -> None:
        """bubble<p, q>: every name is a policy (the record's, else the document's)."""
        for n in fo.privacy_names:
            if n not in policies:
                if n.startswith("|"):
                    self.unknown_filter(n, fo.decl.span)
                    continue
                self.err("E0210", f"unknown policy '{n}' in bubble<{n}> '{fo.name}'", fo.decl.span,
                         did_you_mean(n, policies) or "declare it with `policy name { ... }`")

    def unknown_filter(self, n: str, span) -> None:
        filters = [k[1:] for k in self.info.policies if k.startswith("|")]
        self.err("E0210", f"unknown filter '{n[1:]}' after `|`", span,
                 did_you_mean(n[1:], filters) or "declare it with `filter name { ... }`")

    def check_infinite_structs(self) -> None:
        """A record or message that holds itself through plain fields (not a
        maybe, list, map or table) would be infinite: every value holds another."""
        structs = {**self.info.messages, **self.info.records}
        state: dict[str, int] = {}  # 1 visiting, 2 done

        def visit(name: str, path: list) -> None:
            state[name] = 1
            for f in structs[name].fields.values():
                t = f.type
                if isinstance(t, (T.RecordType, T.MessageType)) and t.name in structs:
                    if state.get(t.name) == 1:
                        cycle = path[path.index(t.name):] + [t.name] if t.name in path else [name, t.name]
                        decl = f.decl
                        span = decl.type.span if decl is not None and hasattr(decl, "type") else structs[name].decl.span
                        self.err("E0512", f"{structs[t.name].kind} '{t.name}' contains itself "
                                 f"({' -> '.join(cycle)}, through field '{f.name}' of {name}): every value "
                                 "would hold another, forever",
                                 span, f"make the field a maybe<{t.name}>, or hold the rows in a table")
                    elif state.get(t.name) is None:
                        visit(t.name, path + [t.name])
            state[name] = 2

        for name in structs:
            if state.get(name) is None:
                visit(name, [name])

    def unsupported(self, d: ast.Unsupported) -> None:
        self.info.unsupported.append(d)
        at = "@" if self.source.text[d.span.start:d.span.start + 1] == "@" else ""
        what = at + d.what + (f" '{d.name}'" if d.name else "")
        self.err(
            "E0901", f"{what} is not supported yet", d.span,
            f"advm parses `{d.what}` but does not run it yet; remove it to compile this document",
        )

    WEB_PARAM_TYPES = (T.INT, T.LONG, T.DOUBLE, T.STRING)

    def collect_web(self, d: ast.WebDecl) -> None:
        """A @web handler's path and message (language.md 4.28; E0531)."""
        segments, names = [], set()
        if len(d.path) > WEB_MAX_PATTERN:
            self.err("E0531", f"a @web path is at most {WEB_MAX_PATTERN} characters", d.span)
        for i, seg in enumerate(d.segments):
            if seg.kind == "fixed":
                if not seg.text or not WEB_FIXED.fullmatch(seg.text):
                    self.err("E0531", f"'{seg.text}' is not a path segment (letters, digits, '-', '_', '.', '~')",
                             seg.span, "write /a/b, with a parameter as $name:int")
                    bad = True
                segments.append(("fixed", seg.text, None))
                continue
            p = seg.param
            if not WEB_NAME.fullmatch(p.name) or p.name in names:
                why = "is already a parameter of this path" if p.name in names else "is not a parameter name"
                self.err("E0531", f"'{p.name}' {why}", seg.span)
            names.add(p.name)
            if seg.kind == "rest":
                if i != len(d.segments) - 1:
                    self.err("E0531", f"${p.name}* takes the rest of the path: it must come last", seg.span)
                    bad = True
                segments.append(("rest", p.name, T.STRING))
                continue
            t = self.resolve_type(p.type)
            if not T.is_error(t) and t not in self.WEB_PARAM_TYPES:
                self.err("E0531", f"a path parameter is an int, long, double or string, not {t}", seg.span)
            segments.append(("param", p.name, t))
        message = None
        if d.param is not None:
            message = self.resolve_type(d.param.type)
            if d.method != "put":
                self.err("E0531", f"only @web put takes a message (the request's body), not @web {d.method}",
                         d.param.span)
            elif not T.is_error(message) and not isinstance(message, T.MessageType):
                self.err("E0531", f"@web put takes a message, not {message}", d.param.span)
            if d.param.name in names:
                self.err("E0531", f"'{d.param.name}' is already a parameter of this path", d.param.span)
        def shape(method, segs):  # fixed text, a parameter's type, or the rest
            return method, tuple("=" + x if k == "fixed" else str(t) if k == "param" else "*" for k, x, t in segs)

        for w in self.info.webs:
            if shape(w.method, w.segments) == shape(d.method, segments):
                self.err("E0531", f"@web {d.method} {d.path} matches the same paths as the handler "
                         f"declared before it", d.span)
        w = WebInfo(d.method, segments, message, d, fn=f"web.{len(self.info.webs)}")
        self.info.webs.append(w)  # even when refused: its body is still checked

    def check_web(self, w: WebInfo) -> None:
        d = w.decl
        scope = Scope()
        for seg, (kind, name, t) in zip(d.segments, w.segments):
            if kind != "fixed":
                scope.declare(LocalVar(name, t, "param", seg.param, mutable=False))
        if d.param is not None and w.message is not None:
            scope.declare(LocalVar(d.param.name, w.message, "param", d.param, mutable=False))
        self.check_function_like(d.body, web_rules(d.method, d.path, T.MessageType(WEB_RESPONSE)), d.span, scope)
        for n in ast.walk(d.body):
            if isinstance(n, ast.Return) and isinstance(n.value, ast.AnonObject):
                bodies = [f.name for f in n.value.fields if f.name in WEB_BODIES]
                if len(bodies) > 1:
                    self.err("E0531", f"a @web response has one body, not {len(bodies)} "
                             f"({', '.join(bodies)})", n.value.span, "return one of " + ", ".join(WEB_BODIES))

    SERVICE_FLAGS = ("idempotent",)

    def collect_service(self, d: ast.ServiceDecl) -> None:
        """A service's methods each take one message and give one (4.27)."""
        svc = self.info.services[d.name] = ServiceInfo(d.name, decl=d)
        for m in d.methods:
            if m.name in svc.methods:
                self.err("E0530", f"service '{d.name}' already has a method '{m.name}'", m.name_span)
                continue
            types = []
            for ref in (m.input, m.output):
                t = self.resolve_type(ref)
                if not T.is_error(t) and not isinstance(t, T.MessageType):
                    self.err("E0530", f"a service method takes and gives messages, not {t}", ref.span,
                             "declare a message for it, inside the service or at the top level")
                    t = T.ERROR
                types.append(t)
            for flag in m.flags:
                if flag not in self.SERVICE_FLAGS:
                    self.err("E0530", f"unknown flag '{flag}' on method '{m.name}'", m.span,
                             "the one flag is `idempotent` (the method may be retried)")
            svc.methods[m.name] = ServiceMethodInfo(m.name, types[0], types[1], "idempotent" in m.flags)
        if not d.methods:
            self.err("E0530", f"service '{d.name}' has no methods", d.name_span,
                     "declare one: `method<In, Out> name;`")

    def import_spaces(self, program: ast.Program) -> None:
        """`space NAME;` (language.md 4.32, compiler/spaces.py): the messages of
        program NAME's contract join this document's; E0533 for a program not
        found, a message or enum of the same name and another shape."""
        from .parser import parse
        from .source import Source

        self.contracts, problems = SP.load_contracts(
            program, getattr(self, "space_resolve", None), lambda text, fn: parse(Source(text, fn)))
        for d, problem in problems:
            self.err("E0533", problem, d.name_span,
                     "serve both programs together (`advm run a.adb b.adb`) or put NAME.adb beside this file")
        spaces = [d for d in program.decls if isinstance(d, ast.SpaceDecl)]
        if len(spaces) > SP.MAX_SPACES:
            self.err("E0533", f"a document names at most {SP.MAX_SPACES} spaces", spaces[SP.MAX_SPACES].span)
        mine = {d.name: d for d in program.decls if isinstance(d, (ast.MessageDecl, ast.EnumDecl))}
        at = {d.name: d for d in spaces}
        for name, contract in self.contracts.items():
            for tname, decl in contract.decls.items():
                have = mine.get(tname)
                if have is None:
                    decl.synthetic_space = name
                    mine[tname] = decl
                    program.decls.append(decl)
                elif type(have) is not type(decl) or SP.shape(have) != SP.shape(decl):
                    where = getattr(have, "synthetic_space", None)
                    self.err("E0533", f"{tname} of program '{name}' is not the {tname} "
                             + (f"of program '{where}'" if where else "this document declares"),
                             at[name].name_span, "one name is one shape: give the messages the same fields, "
                             "or rename one")
        if SP.SPACE_REPLY not in mine:
            program.decls.append(SP.reply_decl())

    def collect_space(self, d: ast.SpaceDecl) -> None:
        """A space's methods: `create` (@construct's message) and each complete channel."""
        c = self.contracts[d.name]
        svc = self.info.services[d.name] = ServiceInfo(d.name, space=True)
        reply = T.MessageType(SP.SPACE_REPLY)
        svc.methods[SP.CREATE] = ServiceMethodInfo(
            SP.CREATE, T.MessageType(c.construct) if c.construct else None, reply)
        for ch, msg in c.channels.items():
            if ch != SP.CREATE:
                svc.methods[ch] = ServiceMethodInfo(ch, T.MessageType(msg), reply)

    def collect_agent(self, d: ast.AgentDecl) -> None:
        """An agent's settings and tools (language.md 4.31): E0540 for what is
        malformed, E0541 without `max_tool_rounds`."""
        self.info.agents[d.name] = d
        seen: set[str] = set()
        for st in d.settings:
            want = AGENT_SETTINGS.get(st.name)
            if want is None:
                self.err("E0540", f"agent '{d.name}' has no setting '{st.name}'", st.name_span,
                         did_you_mean(st.name, AGENT_SETTINGS) or "settings: " + ", ".join(AGENT_SETTINGS))
                continue
            if st.name in seen:
                self.err("E0540", f"setting '{st.name}' of agent '{d.name}' is given twice", st.name_span)
            seen.add(st.name)
            with self.body(reader_rules(f"setting '{st.name}' of agent '{d.name}'")):
                self.expr(st.value)  # typed like any expression (a literal, below)
            if not setting_value(st.value, want):
                self.err("E0540", f"setting '{st.name}' of agent '{d.name}' is {'a' if want != 'int' else 'an'} "
                         f"{want} literal", st.value.span,
                         "settings are read without running the document: write the value itself")
            elif want == "int" and st.value.value < (0 if st.name == "token_budget" else 1):
                self.err("E0540", f"setting '{st.name}' of agent '{d.name}' must be at least "
                         f"{0 if st.name == 'token_budget' else 1}", st.value.span)
        record = self.info.records.get(d.name)
        for name in d.mutables:
            f = record.fields.get(name) if record is not None else None
            t = f.type if f is not None else T.ERROR
            inner = t.inner if isinstance(t, T.MaybeType) else t
            if not T.is_error(t) and not isinstance(inner, (T.Prim, T.EnumType)):
                # a failed ask writes each mutable back from its copy: only values copy whole
                self.err("E0540", f"mutable '{name}' of agent '{d.name}' is {a(t)}: a failed ask could not "
                         "put it back", name_span(f.decl),
                         "make it a number, bool, string, date, enum or a maybe of one")
        if "max_tool_rounds" not in seen:
            self.err("E0541", f"agent '{d.name}' has no `max_tool_rounds`: its tool loop would have no bound",
                     d.name_span, "add `max_tool_rounds = 5;` (how many rounds of tool calls one ask may take)")
        names: set[str] = set()
        for tool in d.tools:
            if tool.name in names:
                self.err("E0540", f"agent '{d.name}' already has a tool '{tool.name}'", tool.name_span)
            names.add(tool.name)
            for ref in (tool.input, tool.output):
                t = self.resolve_type(ref)
                if not T.is_error(t) and not isinstance(t, T.MessageType):
                    self.err("E0540", f"a tool takes and gives messages, not {t}", ref.span,
                             "declare a message: the model sees its JSON schema")
            if len(tool.description) > MAX_TOOL_DESCRIPTION:
                self.err("E0540", f"the description of tool '{tool.name}' is over {MAX_TOOL_DESCRIPTION} "
                         "characters", tool.span)

    def check_tool(self, agent: ast.AgentDecl, tool: ast.AgentTool, fn: FuncInfo, record: StructInfo) -> None:
        """A tool's body (language.md 4.31): a `tool` reads, a `mutating tool`
        writes only the agent's mutables (check_stmt.tool_write)."""
        rules = procedure_rules(fn.name, fn.returns, False, False, record, "tool")
        rules = replace(rules, what=f"{'mutating ' if tool.mutating else ''}tool '{tool.name}' of agent "
                        f"'{agent.name}'", transition=False, destroy=False, random=False,
                        tool=(agent.name, tool.mutating, tuple(agent.mutables)))
        scope = Scope()
        for (pname, ptype), p in zip(fn.params, fn.decl.params):
            scope.declare(LocalVar(pname, ptype, "param", p, mutable=False))
        self.check_function_like(fn.decl.body, rules, name_span(fn.decl), scope)

    def check_sessions(self) -> None:
        """`session<A> name;` holds a conversation with agent A (language.md 4.31)."""
        for f in self.info.fields.values():
            d = f.decl
            if isinstance(d, ast.FieldDecl) and d.session and not T.is_error(f.type) \
                    and not (isinstance(f.type, T.RecordType) and f.type.name in self.info.agents):
                self.err("E0540", f"session<{f.type}> names no agent", d.type.span,
                         did_you_mean(str(f.type), self.info.agents) or "declare `agent Name { ... }` and "
                         "write `session<Name> field;`")

    def check_replication(self, d: ast.Replication, fo: FormulaInfo) -> None:
        """`replication<svc:method> name = expr;` (4.30): the method takes the
        value's message; a maybe of it, when empty, deletes the copy."""
        svc = self.info.services.get(d.service)
        if svc is None:
            self.err("E0530", f"there is no service '{d.service}' to replicate to", d.target_span,
                     did_you_mean(d.service, self.info.services) or "declare it: `service name { ... }`")
            return
        m = svc.methods.get(d.method)
        if m is None:
            self.err("E0530", f"service '{d.service}' has no method '{d.method}'", d.target_span,
                     did_you_mean(d.method, svc.methods) or "declare it: `method<In, Out> name;`")
            return
        t = self.formula_type(fo)
        if T.is_error(t) or T.is_error(m.input):
            return
        if not (self.assignable(t, m.input) or self.assignable(t, T.MaybeType(m.input))):
            self.err("E0301", f"replication '{d.name}' to {d.service}:{d.method} expects {m.input} "
                     f"(or maybe<{m.input}>), found {t}", d.value.span,
                     f"build the message: `{{...}}` with the fields of {m.input}")

    def collect_channel(self, d: ast.Channel) -> None:
        is_array = isinstance(d.message, ast.ArrayTypeRef)
        t = self.resolve_type(d.message.element if is_array else d.message)
        if not T.is_error(t) and not isinstance(t, T.MessageType):
            hint = f"declare '{t}' as a message" if isinstance(t, T.RecordType) else "channels carry messages"
            self.err("E0509", f"channel '{d.name}' must carry a message type, not {t}", d.message.span, hint)
            t = T.ERROR
        self.info.channels[d.name] = ChannelInfo(
            d.name, t, is_array, d.body is not None, d.who, d.param, d
        )

    def collect_handler(self, d: ast.Handler) -> None:
        if d.event not in EVENTS:
            self.err("E0502", f"unknown event '@{d.event}'", d.span, did_you_mean(d.event, EVENTS))
            return
        first = self.info.handlers.get(d.event)
        ptype = None
        if d.event == "construct":
            if d.param is not None:
                if d.param_type is None:
                    self.err("E0502", "@construct takes a message argument: `@construct (M m)`", d.span)
                else:
                    ptype = self.resolve_type(d.param_type)
                    if not T.is_error(ptype) and not isinstance(ptype, T.MessageType):
                        self.err("E0502", f"@construct's argument must be a message, not {ptype}",
                                 d.param_type.span)
                        ptype = T.ERROR
        elif d.event == "attached":  # @attached (a): the asset just uploaded (language.md 4.29)
            given = self.resolve_type(d.param_type) if d.param_type is not None else T.ASSET
            if d.param is None or (given != T.ASSET and not T.is_error(given)):
                self.err("E0502", "@attached takes the asset: `@attached (a)` or `@attached (asset a)`", d.span)
            ptype = T.ASSET if d.param is not None else None
        elif d.event == "authorization":  # @authorization (Login l): sign-in (language.md 4.20.1)
            ptype = self.resolve_type(d.param_type) if d.param_type is not None else None
            if d.param is None or d.param_type is None:
                self.err("E0502", "@authorization takes a message: `@authorization (Login l)`", d.span)
                ptype = T.ERROR
            elif not T.is_error(ptype) and not isinstance(ptype, T.MessageType):
                self.err("E0502", f"@authorization's argument must be a message, not {ptype}", d.param_type.span)
                ptype = T.ERROR
        elif d.event == "authorize":  # @authorize (user, pass): two strings
            ptype = T.STRING
        elif d.event in ("connected", "disconnected"):
            if d.param_type is not None:
                self.err("E0502", f"@{d.event} takes only the viewer: `@{d.event} (who)`", d.param_type.span)
            ptype = T.PRINCIPAL if d.param is not None else None
        elif d.param is not None or d.param_type is not None:
            self.err("E0502", f"@{d.event} takes no arguments", d.span)
        h = HandlerInfo(d.event, d.param, ptype, d)
        if first is None:
            self.info.handlers[d.event] = h
            return
        if d.event in ("authorize", "authorization"):  # one answer: one handler
            self.err("E0204", f"@{d.event} is already defined", d.span, "merge the two into one")
            return
        # Repeated, as in Adama: every declaration runs, in order (language.md 4.18)
        known = first.message
        if ptype is not None and not T.is_error(ptype) and known is not None and not T.is_error(known) \
                and ptype != known:
            self.err("E0502", f"@construct already takes a {known}; every @construct takes the same message, "
                     f"not a {ptype}", d.param_type.span,
                     f"take `{known}` here too, or merge the fields into one message")
        first.more.append(h)

    def collect_cron(self, d: ast.Cron) -> None:
        if d.name in self.info.crons:
            self.err("E0204", f"cron job '{d.name}' is already defined", name_span(d))
            return
        shape = CRON_SHAPES.get(d.schedule)
        if shape is None:
            self.err("E0503", f"unknown cron schedule '{d.schedule}'", name_span(d),
                     "use `daily H:MM`, `hourly M` or `monthly D`")
        elif len(d.values) != len(shape):
            self.err("E0503", f"a {d.schedule} schedule takes {len(shape)} value(s)", name_span(d))
        else:
            for value, (what, lo, hi) in zip(d.values, shape):
                if not lo <= value <= hi:
                    self.err("E0503", f"{d.schedule} {what} {value} is out of range {lo}-{hi}", name_span(d))
        self.info.crons[d.name] = CronInfo(d.name, d.schedule, list(d.values), d)

    def collect_static(self, d: ast.Static) -> None:
        st = self.info.static
        for p in d.policies:
            if p.name not in STATIC_POLICIES:
                self.err("E0504", f"unknown static policy '{p.name}'", p.span,
                         did_you_mean(p.name, STATIC_POLICIES) or "static policies are `create`, `invent` and `debug`")
            elif p.name in st.policies:
                self.err("E0204", f"static policy '{p.name}' is already defined", p.span,
                         "merge the two bodies into one")
            else:
                st.policies[p.name] = p
        for prop in d.properties:
            spec = STATIC_PROPERTIES.get(prop.name)
            if spec is None:
                self.err("E0504", f"unknown static property '{prop.name}'", prop.span,
                         did_you_mean(prop.name, STATIC_PROPERTIES)
                         or "known properties: " + ", ".join(STATIC_PROPERTIES))
                continue
            if prop.name in st.properties:
                self.err("E0204", f"static property '{prop.name}' is already set", prop.span,
                         "set each property once")
                continue
            want, ok, meaning = spec
            with self.body(static_rules("property")):
                actual = self.expr(prop.value)
            value = constant_value(prop.value)
            if T.is_error(actual):
                continue
            if value is None or actual != want:
                self.err("E0504", f"'{prop.name}' must be a constant {want}", prop.value.span, meaning)
            elif not ok(value):
                self.err("E0504", f"'{prop.name}' cannot be {value!r}", prop.value.span, meaning)
            else:
                st.properties[prop.name] = value

    # ============================================================ cross references

    def check_references(self) -> None:
        info = self.info
        for f in info.fields.values():
            self.check_privacy(f.name, f.privacy, f.privacy_names, f.decl, info.fields, info.policies)
        for fo in info.formulas.values():
            if not fo.bubble:
                self.check_privacy(fo.name, fo.privacy, fo.privacy_names, fo.decl, info.fields, info.policies)
            else:
                self.check_guard(fo, info.policies)
        for s in info.records.values():
            policies = {**info.policies, **s.policies}
            fields = {**info.fields, **s.fields}
            for f in s.fields.values():
                if f.decl is not None:
                    self.check_privacy(f.name, f.privacy, f.privacy_names, f.decl, fields, policies)
            for fo in s.formulas.values():
                if not fo.bubble:
                    self.check_privacy(fo.name, fo.privacy, fo.privacy_names, fo.decl, fields, policies)
                else:
                    self.check_guard(fo, policies)
            for m in s.decl.members:
                if isinstance(m, ast.Require) and m.policy not in policies:
                    self.err("E0210", f"unknown policy '{m.policy}'", m.span,
                             did_you_mean(m.policy, policies) or "declare it with `policy name { ... }`")
                elif isinstance(m, ast.IndexHint):
                    f = s.fields.get(m.field)
                    if f is None:
                        self.err("E0508", f"record '{s.name}' has no field '{m.field}' to index", m.span,
                                 did_you_mean(m.field, s.fields))
                    elif not T.is_error(f.type) and not T.is_indexable(f.type):
                        self.err("E0508", f"cannot index field '{m.field}' of type {f.type}", m.span,
                                 "index fields of type int, long, string, bool, principal, date or an enum")

    def check_privacy(self, name, kind, names, decl, fields, policies) -> None:
        if decl is None:
            return
        span = decl.privacy.span if getattr(decl, "privacy", None) is not None else decl.span
        if kind == "viewer_is":
            principals = [k for k, v in fields.items() if T.strip_maybe(v.type) == T.PRINCIPAL]
            for n in names:
                f = fields.get(n)
                if f is None:
                    self.err("E0505", f"viewer_is<{n}> on '{name}' names no field", span,
                             did_you_mean(n, principals) or "name a field of type principal")
                elif not T.is_error(f.type) and T.strip_maybe(f.type) != T.PRINCIPAL:
                    self.err("E0505", f"viewer_is<{n}> on '{name}' needs a principal field; '{n}' is {f.type}",
                             span, did_you_mean(n, principals) or "name a field of type principal")
        elif kind == "use_policy":
            for n in names:
                if n.startswith("|") and n not in self.info.policies:
                    self.unknown_filter(n, span)
                elif n not in policies:
                    self.err("E0210", f"unknown policy '{n}' in use_policy<{n}>", span,
                             did_you_mean(n, policies) or "declare it with `policy name { ... }`")

    # ============================================================ bodies

    def check_bodies(self, program: ast.Program) -> None:
        info = self.info
        self.link_joins()
        self.check_joins()
        for s in list(info.messages.values()) + list(info.records.values()):
            for f in s.fields.values():
                if f.default is not None:
                    with self.body(default_rules()):
                        self.check_value(f.default, f.type, f"default of '{f.name}'")
        for f in info.fields.values():
            if f.default is not None:
                with self.body(default_rules()):
                    self.check_value(f.default, f.type, f"default of '{f.name}'")
        for fo in info.formulas.values():
            self.formula_type(fo)
        for s in info.records.values():
            for fo in s.formulas.values():
                self.formula_type(fo)
            for p in s.policies.values():
                self.check_function_like(p.decl.body, with_record(policy_rules(p.name), s), name_span(p.decl))
            agent = info.agents.get(s.name)
            for m in s.methods.values():
                tool = agent_tool(agent, m)
                if tool is not None:
                    self.check_tool(agent, tool, m, s)
                else:
                    self.check_function(m, record=s)
        for s in info.messages.values():
            for m in s.methods.values():
                self.check_function(m, record=s)
            for blk in (s.decl.parsed if isinstance(s.decl, ast.MessageDecl) else []):
                # `@parsed { ... }`: the message's own fields, read and written; nothing else (4.5)
                self.check_block_body(blk, Rules(f"@parsed of message '{s.name}'", reads_doc=False, writes_doc=True,
                                                 random=False, transition=False, destroy=False, pure=True,
                                                 record=s))
        for p in info.policies.values():
            rules = policy_rules(p.name)
            if p.decl.filter:  # a view filter reads the viewer's own state too (4.10.1)
                rules = replace(rules, what=f"filter '{p.decl.name}'", viewer=True)
            self.check_function_like(p.decl.body, rules, name_span(p.decl))
        for fn in info.functions.values():
            self.check_function(fn)
        for group in info.overloads.values():
            for fn in group:
                self.check_function(fn)
        for m in self.metrics.values():
            # Checked like a formula: it reads the document, changes nothing, has a value.
            with self.body(reader_rules(f"metric '{m.name}'")):
                t = self.expr(m.value)
            if not T.is_error(t) and not (T.is_numeric(t) or t in (T.BOOL, T.STRING)):
                self.err("E0301", f"a metric is a number, bool or string, not {t}", m.value.span)
        for en in info.enums.values():
            for name in list(en.dispatchers):
                en.dispatch_tables[name] = self.dispatch_table(en, name)
                for _, fn in en.dispatchers[name]:
                    d = fn.decl
                    scope = Scope()
                    scope.declare(LocalVar("self", T.EnumType(en.name), "param", d, mutable=False))
                    for (pname, ptype), p in zip(fn.params, d.params):
                        scope.declare(LocalVar(pname, ptype, "param", p, mutable=not p.readonly))
                    rules = replace(function_rules(fn.name, fn.returns), what=f"dispatch {en.name}.{fn.name}")
                    self.check_function_like(d.body, rules, name_span(d), scope)
        for d in program.decls:
            if isinstance(d, ast.Channel) and d.body is not None and info.channels.get(d.name) is not None \
                    and info.channels[d.name].decl is d:
                self.check_channel(info.channels[d.name])
            elif isinstance(d, ast.StateBlock) and info.states.get(d.name) is not None \
                    and info.states[d.name].decl is d:
                self.check_block_body(d.body, state_rules(d.name))
            elif isinstance(d, ast.Handler) and info.handlers.get(d.event) is not None:
                for h in info.handlers[d.event].all:
                    if h.decl is d:
                        self.check_handler(h)
            elif isinstance(d, ast.Cron):
                self.check_block_body(d.body, cron_rules(d.name))
            elif isinstance(d, ast.WebDecl):
                for w in self.info.webs:
                    if w.decl is d:
                        self.check_web(w)
            elif isinstance(d, ast.Replication) and info.formulas.get(d.name) is not None \
                    and info.formulas[d.name].decl is d:
                self.check_replication(d, info.formulas[d.name])
            elif isinstance(d, ast.Static):
                for p in d.policies:
                    self.check_function_like(p.body, static_rules(p.name), p.span)
            elif isinstance(d, ast.TestDecl):
                self.check_block_body(d.body, test_rules(d.name))

    def check_value(self, e: ast.Expr, want: T.Type, what: str) -> T.Type:
        got = self.expr(e, want)
        if not self.assignable(got, want):
            self.err("E0301", f"{what} expects {want}, found {got}", e.span, self.conversion_hint(got, want))
        return got

    def formula_type(self, fo: FormulaInfo, use_span=None) -> T.Type:
        if fo.type is not None:
            return fo.type
        if fo in self.in_progress:
            start = self.in_progress.index(fo)
            cycle = [f.name for f in self.in_progress[start:]] + [fo.name]
            if id(fo) not in self.cycle_reported:
                # Once per cycle, at the formula where it was entered, naming all of them.
                for f in self.in_progress[start:]:
                    self.cycle_reported.add(id(f))
                self.err("E0506", f"formula '{fo.name}' depends on itself: {' -> '.join(cycle)}",
                         name_span(fo.decl), "break the cycle: one of these must be a stored field")
            return T.ERROR
        record = self.info.records.get(fo.owner) if fo.owner else None
        kind = "bubble" if fo.bubble else "formula"
        rules = reader_rules(f"{kind} '{fo.name}'", who=fo.bubble, record=record, viewer=fo.bubble)
        self.in_progress.append(fo)
        try:
            doc_reads = fo.reads if fo.owner is None else fo.doc_reads
            with self.body(rules, reads=fo.reads, doc_reads=doc_reads):
                t = self.expr(fo.value)
        finally:
            self.in_progress.pop()
        if t == T.VOID:
            t = self.err("E0312", f"{kind} '{fo.name}' has no value", fo.value.span)
        elif isinstance(t, (T.FutureType, T.ChannelType, T.LibraryType)) and not isinstance(t, T.ResultType):
            t = self.err("E0312", f"{kind} '{fo.name}' cannot be {a(t)}", fo.value.span)
        fo.type = t
        return t

    def check_function(self, fn: FuncInfo, record: StructInfo | None = None) -> None:
        d = fn.decl
        if fn.kind == "function":
            rules = function_rules(fn.name, fn.returns)
        elif record is not None and record.kind == "message":
            # A message's methods see its fields and nothing of the document: pure.
            rules = replace(function_rules(fn.name, fn.returns), record=record, what=f"method '{fn.name}'")
        else:
            rules = procedure_rules(fn.name, fn.returns, fn.readonly, fn.aborts, record, fn.kind)
        scope = Scope()
        for (pname, ptype), p in zip(fn.params, d.params):
            scope.declare(LocalVar(pname, ptype, "param", p, mutable=not p.readonly))
        self.check_function_like(d.body, rules, name_span(d), scope)

    def check_function_like(self, block: ast.Block, rules, span, scope: Scope | None = None) -> None:
        with self.body(rules, scope):
            self.block(block, new_scope=scope is None)
            if rules.returns != T.VOID and not T.is_error(rules.returns) and not self.terminates(block):
                self.err("E0401", f"{rules.what} may end without returning {a(rules.returns)}", span,
                         "make every path end with `return value;`")

    def check_block_body(self, block: ast.Block, rules, scope: Scope | None = None) -> None:
        with self.body(rules, scope):
            self.block(block, new_scope=scope is None)

    def check_channel(self, ch: ChannelInfo) -> None:
        d = ch.decl
        scope = Scope()
        if ch.who:
            scope.declare(LocalVar(ch.who, T.PRINCIPAL, "param", d, mutable=False))
        if ch.param:
            t = T.ArrayType(ch.message) if ch.is_array and not T.is_error(ch.message) else ch.message
            scope.declare(LocalVar(ch.param, t, "param", d, mutable=False))
        self.check_block_body(d.body, channel_rules(ch.name), scope)

    def check_handler(self, h: HandlerInfo) -> None:
        rules = HANDLER_RULES[h.event]
        scope = Scope()
        if h.param is not None and h.param_type is not None:
            scope.declare(LocalVar(h.param, h.param_type, "param", h.decl, mutable=False))
        if h.decl.param2 is not None:  # @authorize (user, pass)
            if h.decl.param2 == h.param:
                self.err("E0204", f"parameter '{h.param}' is declared twice", h.decl.span)
            else:
                scope.declare(LocalVar(h.decl.param2, T.STRING, "param", h.decl, mutable=False))
        if rules.value_body:
            self.check_function_like(h.decl.body, rules, h.decl.span, scope)
        else:
            self.check_block_body(h.decl.body, rules, scope)
