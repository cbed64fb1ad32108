"""The document as a whole: record layouts, one function per body, metadata.

Layouts: the document root ("$doc") starts with the hidden slots of
vm/docslots.py, then the document's fields in declaration order; every record
type gets its fields then the hidden owner slot (see vm/table.py); every
message type its fields; "$table" is the layout of tables. Defaults that are
constants sit in the layouts; the rest is computed by code: `$init` fills the
document's computed defaults and creates its tables, `new.<Type>` builds a
record or message whose defaults need code.

Function names (what the runtime calls): `fn.<f>` for functions and
procedures, `method.<R>.<m>`, `channel.<c>`, `state.<s>`, `on.<event>`,
`cron.<job>`, `formula.<f>` and `bubble.<b>` (document), `rformula.<R>.<f>`,
`policy.<p>`, `rpolicy.<R>.<p>`, `static.<create|invent>`, `test.<t>`.
The module's `meta` maps the document's declarations to these names and
describes every field's type for the runtime (runtime/document.py).
"""
from __future__ import annotations

import hashlib

from . import ast
from . import types as T
from .check_decl import constant_value
from .codegen import CodegenError, FuncGen
from .gen_expr import FSET
from .gen_reads import formula_reads, reads_of
from .gen_stmt import RETURN
from .ast import VIEWER_MESSAGE
from .gen_types import VIEWER_KEY, constant_default, describe, kind_of, result_kind
from ..vm import docslots
from ..vm.assembler import ModuleAsm
from ..vm.table import TABLE_DEFAULTS, TABLE_FIELDS, TABLE_KINDS, TABLE_LAYOUT_NAME

META_VERSION = 1


def literal_default(e: ast.Expr | None, t: T.Type, info) -> tuple[bool, object]:
    """(True, value) when a field default is a literal the layout can hold."""
    if e is None:
        return constant_default(t, info)
    if isinstance(e, ast.EnumValue) and isinstance(t, T.EnumType) and e.value != "*":
        return True, info.enums[e.enum].values[e.value]
    if isinstance(e, ast.StateLabel) and t == T.LABEL:
        return True, e.name
    value = constant_value(e)
    if value is None or isinstance(t, T.MaybeType):
        return False, None
    k = kind_of(t)
    if k == "d" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return True, float(value)
    if k in ("i", "l") and type(value) is int:
        return True, value
    if k == "b" and type(value) is bool:
        return True, value
    if t == T.STRING and type(value) is str:
        return True, value
    return False, None


class ModuleGen:
    def __init__(self, compilation):
        self.comp = compilation
        self.info = compilation.info
        self.source = compilation.source
        digest = hashlib.sha256(self.source.text.encode("utf-8")).hexdigest()
        self.asm = ModuleAsm(self.source.filename, digest)
        self.functions: dict = {}
        self.bodies: list = []  # (function name, how to generate it)
        self.slots: dict[str, dict[str, int]] = {}  # struct name -> field -> slot
        self.layout_names: dict[str, str] = {}  # struct name -> layout name
        self.defaults: dict[str, list] = {}  # struct name -> [(field, expr)] computed by code
        self.ctors: dict[str, str | None] = {}
        self.doc_slots: dict[str, int] = {}
        self.doc_computed: list = []  # (field name, FieldInfo) set by $init
        self.enum_maps: dict[str, dict] = {}

    # ================================================================ lookups for FuncGen

    def doc_slot(self, name: str) -> int:
        return self.doc_slots[name]

    def field_slot(self, struct: str, field: str) -> int:
        return self.slots[struct][field]

    def owner_slot(self, record: str) -> int:
        return self.slots[record][docslots.OWNER_FIELD]

    def layout_name(self, struct: str) -> str:
        return self.layout_names[struct]

    def constructor(self, struct: str) -> str | None:
        return self.ctors.get(struct)

    def is_indexed(self, struct: str, field: str) -> bool:
        rec = self.info.records.get(struct)
        return rec is not None and field in rec.indexes

    def table_spec(self, record: str) -> list:
        rec = self.info.records[record]
        return [self.asm.record_index(TABLE_LAYOUT_NAME), self.slots[record]["id"],
                self.owner_slot(record), [self.slots[record][f] for f in rec.indexes]]

    def enum_names(self, name: str) -> dict:
        if name not in self.enum_maps:
            # Two names may share a number: the first declared one prints.
            names = {}
            for n, v in self.info.enums[name].values.items():
                names.setdefault(v, n)
            self.enum_maps[name] = names
        return self.enum_maps[name]

    def function_fn(self, name: str) -> str:
        return f"fn.{name}"

    def method_fn(self, record: str, name: str) -> str:
        return f"method.{record}.{name}"

    def formula_fn(self, name: str) -> str:
        fo = self.info.formulas[name]
        return f"{'bubble' if fo.bubble else 'formula'}.{name}"

    def record_formula_fn(self, record: str, name: str) -> str:
        return f"rformula.{record}.{name}"

    def state_fn(self, name: str) -> str:
        return f"state.{name}"

    # ================================================================ layouts

    def build_layouts(self) -> None:
        info = self.info
        self.asm.record(TABLE_LAYOUT_NAME, list(TABLE_FIELDS), TABLE_KINDS, list(TABLE_DEFAULTS))
        for kind, structs in (("record", info.records), ("message", info.messages)):
            for s in structs.values():
                self.struct_layout(s, kind)
        names, kinds, values = [], "", []
        for name, k, default in docslots.HIDDEN:
            names.append(name)
            kinds += k
            values.append(default)
        for f in info.fields.values():
            self.doc_slots[f.name] = len(names)
            names.append(f.name)
            kinds += kind_of(f.type)
            values.append(self.layout_value(f, self.doc_computed))
        self.asm.document = self.asm.record("$doc", names, kinds, values)

    def layout_value(self, f, computed: list):
        """The layout default of a field; fields whose default needs code go to
        `computed` and get a placeholder of their kind."""
        ok, value = literal_default(f.default, f.type, self.info)
        if ok:
            return value
        computed.append(f)
        return {"i": 0, "l": 0, "b": False, "d": 0.0, "o": None}[kind_of(f.type)]

    def struct_layout(self, s, kind: str) -> None:
        names, kinds, values, computed = [], "", [], []
        slots = {}
        for f in s.fields.values():
            slots[f.name] = len(names)
            names.append(f.name)
            kinds += kind_of(f.type)
            values.append(self.layout_value(f, computed))
        if kind == "record":
            slots[docslots.OWNER_FIELD] = len(names)
            names.append(docslots.OWNER_FIELD)
            kinds += "o"
            values.append(docslots.DETACHED)
        layout = f"{kind}.{s.name}"
        self.asm.record(layout, names, kinds, values)
        self.layout_names[s.name] = layout
        self.slots[s.name] = slots
        self.defaults[s.name] = computed
        self.ctors[s.name] = f"new.{s.name}" if computed else None

    # ================================================================ functions

    def declare(self, name: str, params: list, result: T.Type, make, node=None) -> None:
        """Create the function now (so every call can name it) and its body later.
        `node` is the body's syntax (its locals are typed from it) or None."""
        kinds = "".join(kind_of(t) for _, t in params)
        self.functions[name] = self.asm.function(name, kinds, result_kind(result))
        self.bodies.append((name, params, result, make, node))

    def declare_all(self) -> None:
        info = self.info
        self.declare("$init", [], T.VOID, self.gen_init)
        for name, computed in self.defaults.items():
            if computed:
                self.declare(f"new.{name}", [], T.MessageType(name), *self.ctor_maker(name))
        for fn in list(info.functions.values()) + [f for group in info.overloads.values() for f in group]:
            params = [((id(p), p.name), t) for (pname, t), p in zip(fn.params, fn.decl.params)]
            self.declare(self.function_fn(fn.symbol or fn.name), params, fn.returns,
                         *self.body_maker(fn.decl.body, fn.decl))
        for en in info.enums.values():
            for group in en.dispatchers.values():
                for _, fn in group:
                    d = fn.decl
                    params = [((id(d), "self"), T.EnumType(en.name))] + [
                        ((id(p), p.name), t) for (pname, t), p in zip(fn.params, d.params)]
                    self.declare(fn.symbol, params, fn.returns, *self.body_maker(d.body, d))
        for s in info.messages.values():
            mt = T.MessageType(s.name)
            for m in s.methods.values():
                params = [(None, mt)] + [((id(p), p.name), t) for (pname, t), p in zip(m.params, m.decl.params)]
                self.declare(self.method_fn(s.name, m.name), params, m.returns,
                             *self.body_maker(m.decl.body, m.decl, row=s.name))
        for s in info.records.values():
            rt = T.RecordType(s.name)
            for m in s.methods.values():
                params = [(None, rt)] + [((id(p), p.name), t) for (pname, t), p in zip(m.params, m.decl.params)]
                self.declare(self.method_fn(s.name, m.name), params, m.returns,
                             *self.body_maker(m.decl.body, m.decl, row=s.name))
            for fo in s.formulas.values():
                self.declare(self.record_formula_fn(s.name, fo.name), [(None, rt)], fo.type,
                             *self.value_maker(fo.value, row=s.name))
            for p in s.policies.values():
                self.declare(f"rpolicy.{s.name}.{p.name}", [(None, rt)], T.BOOL,
                             *self.body_maker(p.decl.body, p.decl, row=s.name))
        viewer = [(VIEWER_KEY, T.MessageType(VIEWER_MESSAGE))] if VIEWER_MESSAGE in info.messages else []
        for fo in info.formulas.values():
            # a document bubble takes the viewer's state (@viewer) when the document declares one
            self.declare(self.formula_fn(fo.name), viewer if fo.bubble else [], fo.type, *self.value_maker(fo.value))
        for p in info.policies.values():
            self.declare(f"policy.{p.name}", [], T.BOOL, *self.body_maker(p.decl.body, p.decl))
        for ch in info.channels.values():
            if ch.complete:
                t = T.ArrayType(ch.message) if ch.is_array else ch.message
                params = [((id(ch.decl), ch.param), t)]
                self.declare(f"channel.{ch.name}", params, T.VOID,
                             *self.body_maker(ch.decl.body, ch.decl, who=ch.who))
        for st in info.states.values():
            self.declare(self.state_fn(st.name), [], T.VOID, *self.body_maker(st.decl.body, st.decl))
        for first in info.handlers.values():
            result = T.BOOL if first.event in ("connected", "delete") else T.VOID
            parts = first.all
            for k, h in enumerate(parts):
                params, who = [], None
                if h.event == "construct" and h.param is not None and h.param_type is not None:
                    params = [((id(h.decl), h.param), h.param_type)]
                elif h.param is not None and h.param_type == T.PRINCIPAL:
                    who = h.param
                name = f"on.{h.event}" if len(parts) == 1 else f"on.{h.event}.{k}"
                self.declare(name, params, result, *self.body_maker(h.decl.body, h.decl, who=who))
            if len(parts) > 1:
                message = first.message
                self.declare(f"on.{first.event}", [(None, message)] if message is not None else [], result,
                             self.handlers_maker(first, message, result), None)
        for c in info.crons.values():
            self.declare(f"cron.{c.name}", [], T.VOID, *self.body_maker(c.decl.body, c.decl))
        for name, p in info.static.policies.items():
            self.declare(f"static.{name}", [], T.BOOL, *self.body_maker(p.body, p))
        for name, t in info.tests.items():
            self.declare(f"test.{name}", [], T.VOID, *self.body_maker(t.body, t))

    def body_maker(self, body: ast.Block, decl, row: str | None = None, who: str | None = None):
        def make(g: FuncGen) -> None:
            if row is not None:
                g.rows.append((row, g.params[0]))
            if who is not None:
                reg = g.declare(decl, who, T.PRINCIPAL)
                if reg is not None:
                    g.emit("FGETO", reg.n, docslots.WHO)
            g.function_body(body)
        return make, body

    def handlers_maker(self, first, message, result):
        """`on.<event>` of an event declared more than once (Adama's rule): every
        declaration runs, in order, @construct's with the message when it takes
        one; @connected and @delete answer true when any of them does."""
        def make(g: FuncGen) -> None:
            acc = None
            if result == T.BOOL:
                acc = g.temp("i")
                g.emit("ILOADI", acc.n, 0)
            for k, h in enumerate(first.all):
                args = [(g.params[0], message)] if h.param_type is not None and message is not None else []
                r = g.call(f"on.{h.event}.{k}", args, [t for _, t in args], result)
                if acc is not None:
                    g.emit("IADD", acc.n, acc.n, r.n)
                    g.regs.free(r)
            if acc is None:
                g.emit("RET")
                return
            zero = g.temp("i")
            g.emit("ILOADI", zero.n, 0)
            g.emit("INE", acc.n, acc.n, zero.n)
            g.emit("IRET", acc.n)
        return make

    def value_maker(self, value: ast.Expr, row: str | None = None):
        def make(g: FuncGen) -> None:
            if row is not None:
                g.rows.append((row, g.params[0]))
            r = g.expr_as(value, g.result)
            g.emit(RETURN[kind_of(g.result)], r.n)
        return make, value

    def ctor_maker(self, name: str):
        def make(g: FuncGen) -> None:
            out = g.temp("o")
            g.emit("RNEW", out.n, self.layout_names[name])
            for f in self.defaults[name]:
                if f.decl is not None:
                    g.at(f.decl)
                if f.default is not None:
                    g.set_fresh(out, name, f.name, f.default)
                else:
                    v = g.temp(f.type)
                    g.default_value(f.type, v)
                    g.set_fresh(out, name, f.name, (v, f.type))
                    g.free(v)
            g.emit("ORET", out.n)
        return make, None

    def gen_init(self, g: FuncGen) -> None:
        for f in self.doc_computed:
            if f.decl is not None:
                g.pos = g.position(f.decl.span)
            v = g.temp(f.type)
            if f.default is not None:
                g.expr_as(f.default, f.type, v)
            else:
                g.default_value(f.type, v)
            g.emit(FSET[v.bank], v.n, self.doc_slots[f.name])
            g.free(v)
        g.emit("RET")

    # ================================================================ metadata

    def fields_meta(self, fields: dict, slots: dict) -> list:
        out = []
        for f in fields.values():
            out.append({"name": f.name, "slot": slots[f.name], "type": describe(f.type),
                        "privacy": f.privacy, "privacy_names": list(f.privacy_names),
                        "readonly": bool(f.readonly)})
        return out

    def formula_meta(self, fo, fn: str) -> dict:
        return {"fn": fn, "type": describe(fo.type), "privacy": fo.privacy,
                "privacy_names": list(fo.privacy_names), "reads": sorted(fo.reads), "bubble": fo.bubble}

    def views_meta(self) -> dict:
        """What views/viewers.py needs to cache per-viewer results: for every policy,
        formula and bubble, what it reads (the record's fields under "reads",
        the document's under "doc_reads") and whether it reads the clock."""
        info = self.info
        return {
            "policies": {n: {"fn": f"policy.{n}", **reads_of(p.decl.body).meta()}
                         for n, p in info.policies.items()},
            "formulas": {n: formula_reads(fo).meta() for n, fo in info.formulas.items()},
            "records": {
                s.name: {
                    "policies": {n: {"fn": f"rpolicy.{s.name}.{n}", **reads_of(p.decl.body).meta()}
                                 for n, p in s.policies.items()},
                    "formulas": {n: formula_reads(fo).meta() for n, fo in s.formulas.items()},
                }
                for s in info.records.values()
            },
        }

    def build_meta(self) -> dict:
        info = self.info
        records = {}
        for s in info.records.values():
            records[s.name] = {
                "layout": self.asm.record_index(self.layout_names[s.name]),
                "fields": self.fields_meta(s.fields, self.slots[s.name]),
                "owner_slot": self.owner_slot(s.name),
                "new": self.ctors[s.name],
                "indexes": list(s.indexes),
                "requires": [f"rpolicy.{s.name}.{p}" if p in s.policies else f"policy.{p}" for p in s.requires],
                "formulas": {n: self.formula_meta(fo, self.record_formula_fn(s.name, n))
                             for n, fo in s.formulas.items()},
                "policies": {n: f"rpolicy.{s.name}.{n}" for n in s.policies},
            }
        messages = {}
        for s in info.messages.values():
            messages[s.name] = {
                "layout": self.asm.record_index(self.layout_names[s.name]),
                "fields": self.fields_meta(s.fields, self.slots[s.name]),
                "new": self.ctors[s.name],
            }
        channels = {}
        for ch in info.channels.values():
            channels[ch.name] = {"fn": f"channel.{ch.name}" if ch.complete else None,
                                 "message": ch.message.name if isinstance(ch.message, T.MessageType) else None,
                                 "array": ch.is_array, "complete": ch.complete}
        handlers = {}
        for h in info.handlers.values():
            handlers[h.event] = {"fn": f"on.{h.event}",
                                 "message": h.message.name if isinstance(h.message, T.MessageType) else None}
        budget = info.static.properties.get("instruction_budget")
        meta = {
            "version": META_VERSION,
            "document": {"fields": self.fields_meta(info.fields, self.doc_slots),
                         "hidden": {name: i for i, (name, _, _) in enumerate(docslots.HIDDEN)}},
            "records": records,
            "messages": messages,
            "enums": {e.name: {"values": dict(e.values)} for e in info.enums.values()},
            "formulas": {n: self.formula_meta(fo, self.formula_fn(n)) for n, fo in info.formulas.items()},
            "formula_order": info.formula_order(),
            "policies": {n: f"policy.{n}" for n in info.policies},
            "channels": channels,
            "states": {n: self.state_fn(n) for n in info.states},
            "handlers": handlers,
            "crons": {c.name: {"fn": f"cron.{c.name}", "schedule": c.schedule, "values": list(c.values)}
                      for c in info.crons.values()},
            "static": {"policies": {n: f"static.{n}" for n in info.static.policies},
                       "properties": dict(info.static.properties)},
            "tests": {n: f"test.{n}" for n in info.tests},
            "init": "$init",
            "table_layout": self.asm.record_index(TABLE_LAYOUT_NAME),
            "budget": budget,
            "views": self.views_meta(),
        }
        if VIEWER_MESSAGE in info.messages:
            meta["viewer"] = VIEWER_MESSAGE  # the message of @viewer: document bubbles take one
        return meta

    # ================================================================ driver

    def generate(self) -> ModuleAsm:
        self.build_layouts()
        self.declare_all()
        for name, params, result, make, node in self.bodies:
            span = node.span if node is not None else None
            try:
                g = FuncGen(self, name, params, result, body=node, span=span)
                make(g)
            except CodegenError:
                raise
            except Exception as exc:  # a generator bug must name the body it failed in
                raise CodegenError(f"internal code generation error in {name}: {type(exc).__name__}: {exc}",
                                   span) from exc
        self.asm.meta = self.build_meta()
        return self.asm


__all__ = ["ModuleGen"]
