"""Code generation's declaring and describing stages: which bodies the module has, and its metadata.

`declare_bodies` creates one function per body of the document in the module
(so that every call can name any of them before one is written) and returns
the `Body` list codegen.py then writes, each through its `make(stages)`:
functions, procedures, methods, channel handlers, state blocks, lifecycle
handlers, cron jobs, formulas, bubbles, policies, static policies, tests,
`$init` (the document's computed defaults) and `new.<Type>` (records and
messages whose defaults need code). The names are layout.py's.

`module_meta` is the module's `meta`: it maps the document's declarations to
these names and describes every field's type for the runtime
(runtime/engine.py), and tells the views (views/viewers.py) what every
policy, formula and bubble reads.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import ast
from . import types as T
from .agents import ask_channel, settings_of
from .ast import VIEWER_MESSAGE
from .gen_expr import FSET
from .gen_stmt import RETURN
from .gen_types import VIEWER_KEY, WEB_HEADERS_KEY, WEB_PARAMETERS_KEY, describe, kind_of, result_kind
from .layout import Layout
from ..vm import docslots
from ..vm.table import TABLE_LAYOUT_NAME

META_VERSION = 1


@dataclass
class Body:
    """One function of the module still to be written: `make(stages)` writes it
    with the codegen.Stages whose emitter has begun it."""

    name: str
    f: object  # the vm.assembler.FunctionAsm it is written into
    params: list  # [(key, Type)]: key is the parameter's (id(node), name), None for a hidden one
    result: T.Type
    make: object
    node: object = None  # the body's syntax: its locals are typed from it, its span places it


class Declarations:
    """Creates the module's functions and says how each body is written."""

    def __init__(self, info, layout: Layout, asm):
        self.info, self.layout, self.asm = info, layout, asm
        self.bodies: list[Body] = []

    def declare(self, name: str, params: list, result: T.Type, make, node=None) -> None:
        """Create the function now (so every call can name it) and its body later.
        `node` is the body's syntax (its locals are typed from it) or None."""
        kinds = "".join(kind_of(t) for _, t in params)
        f = self.asm.function(name, kinds, result_kind(result))
        self.bodies.append(Body(name, f, params, result, make, node))

    def declare_all(self) -> None:
        info = self.info
        self.declare("$init", [], T.VOID, self.gen_init)
        for name, computed in self.layout.defaults.items():
            if computed:
                self.declare(f"new.{name}", [], T.MessageType(name), *self.ctor_maker(name))
        for fn in list(info.functions.values()) + [f for group in info.overloads.values() for f in group]:
            params = [((id(p), p.name), t) for (pname, t), p in zip(fn.params, fn.decl.params)]
            self.declare(self.layout.function_fn(fn.symbol or fn.name), params, fn.returns,
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
            if isinstance(s.decl, ast.MessageDecl) and s.decl.parsed:  # `@parsed` blocks, in order (4.5)
                body = ast.Block(list(s.decl.parsed), span=s.decl.parsed[0].span)
                self.declare(f"parsed.{s.name}", [(None, mt)], T.VOID, *self.body_maker(body, s.decl, row=s.name))
            for m in s.methods.values():
                params = [(None, mt)] + [((id(p), p.name), t) for (pname, t), p in zip(m.params, m.decl.params)]
                self.declare(self.layout.method_fn(s.name, m.name), params, m.returns,
                             *self.body_maker(m.decl.body, m.decl, row=s.name))
        viewer = [(VIEWER_KEY, T.MessageType(VIEWER_MESSAGE))] if VIEWER_MESSAGE in info.messages else []
        for s in info.records.values():
            rt = T.RecordType(s.name)
            for m in s.methods.values():
                params = [(None, rt)] + [((id(p), p.name), t) for (pname, t), p in zip(m.params, m.decl.params)]
                self.declare(self.layout.method_fn(s.name, m.name), params, m.returns,
                             *self.body_maker(m.decl.body, m.decl, row=s.name))
            for fo in s.formulas.values():
                # a record's bubble takes the viewer's state too (after the row)
                params = [(None, rt)] + (viewer if fo.viewer else [])
                self.declare(self.layout.record_formula_fn(s.name, fo.name), params, fo.type,
                             *self.value_maker(fo.value, row=s.name))
            for p in s.policies.values():
                self.declare(f"rpolicy.{s.name}.{p.name}", [(None, rt)], T.BOOL,
                             *self.body_maker(p.decl.body, p.decl, row=s.name))
        for fo in info.formulas.values():
            # a document bubble takes the viewer's state (@viewer) when the document declares one
            self.declare(self.layout.formula_fn(fo.name), viewer if fo.bubble else [], fo.type, *self.value_maker(fo.value))
        for p in info.policies.values():
            if p.decl.filter:  # `filter f`: takes the viewer's own state, when there is one (4.10.1)
                self.declare(policy_fn(p.name), viewer, T.BOOL, *self.body_maker(p.decl.body, p.decl))
                continue
            self.declare(f"policy.{p.name}", [], T.BOOL, *self.body_maker(p.decl.body, p.decl))
        for ch in info.channels.values():
            if ch.complete:
                t = T.ArrayType(ch.message) if ch.is_array else ch.message
                params = [((id(ch.decl), ch.param), t)]
                self.declare(f"channel.{ch.name}", params, T.VOID,
                             *self.body_maker(ch.decl.body, ch.decl, who=ch.who))
        for st in info.states.values():
            self.declare(self.layout.state_fn(st.name), [], T.VOID, *self.body_maker(st.decl.body, st.decl))
        for first in info.handlers.values():
            result = T.BOOL if first.event in ("connected", "delete", "can_attach") else (
                T.STRING if first.event in ("authorize", "authorization") else T.VOID)
            parts = first.all
            for k, h in enumerate(parts):
                params, who = [], None
                if h.event == "construct" and h.param is not None and h.param_type is not None:
                    params = [((id(h.decl), h.param), h.param_type)]
                elif h.event == "attached" and h.param is not None:
                    params = [((id(h.decl), h.param), T.ASSET)]
                elif h.event == "authorize":  # the two strings (language.md 4.20.1)
                    params = [((id(h.decl), h.param), T.STRING), ((id(h.decl), h.decl.param2), T.STRING)]
                elif h.event == "authorization" and h.param_type is not None and not T.is_error(h.param_type):
                    params = [((id(h.decl), h.param), h.param_type)]
                elif h.param is not None and h.param_type == T.PRINCIPAL:
                    who = h.param
                name = f"on.{h.event}" if len(parts) == 1 else f"on.{h.event}.{k}"
                self.declare(name, params, result, *self.body_maker(h.decl.body, h.decl, who=who))
            if len(parts) > 1:
                message = T.ASSET if first.event == "attached" else first.message
                self.declare(f"on.{first.event}", [(None, message)] if message is not None else [], result,
                             self.handlers_maker(first, message, result), None)
        for c in info.crons.values():
            self.declare(f"cron.{c.name}", [], T.VOID, *self.body_maker(c.decl.body, c.decl))
        for w in info.webs:  # language.md 4.28: the path's parameters, then put's message
            d = w.decl
            params = [((id(seg.param), name), t)
                      for seg, (kind, name, t) in zip(d.segments, w.segments) if kind != "fixed"]
            if d.param is not None and w.message is not None:
                params.append(((id(d.param), d.param.name), w.message))
            params += [(WEB_PARAMETERS_KEY, T.DYNAMIC), (WEB_HEADERS_KEY, T.MapType(T.STRING, T.STRING))]
            self.declare(w.fn, params, T.MessageType("WebResponse"), *self.body_maker(d.body, d))
        for name, p in info.static.policies.items():
            self.declare(f"static.{name}", [], T.BOOL, *self.body_maker(p.body, p))
        for name, t in info.tests.items():
            self.declare(f"test.{name}", [], T.VOID, *self.body_maker(t.body, t))

    def body_maker(self, body: ast.Block, decl, row: str | None = None, who: str | None = None):
        def make(s) -> None:
            em = s.em
            if row is not None:
                em.rows.append((row, em.params[0]))
            if who is not None:
                reg = em.declare(decl, who, T.PRINCIPAL)
                if reg is not None:
                    em.emit("FGETO", reg.n, docslots.WHO)
            s.stmts.function_body(body)
        return make, body

    def handlers_maker(self, first, message, result):
        """`on.<event>` of an event declared more than once (Adama's rule): every
        declaration runs, in order, @construct's with the message when it takes
        one; @connected and @delete answer true when any of them does."""
        def make(s) -> None:
            em = s.em
            acc = None
            if result == T.BOOL:
                acc = em.temp("i")
                em.emit("ILOADI", acc.n, 0)
            for k, h in enumerate(first.all):
                args = [(em.params[0], message)] if h.param_type is not None and message is not None else []
                r = s.calls.call(f"on.{h.event}.{k}", args, [t for _, t in args], result)
                if acc is not None:
                    em.emit("IADD", acc.n, acc.n, r.n)
                    em.regs.free(r)
            if acc is None:
                em.emit("RET")
                return
            zero = em.temp("i")
            em.emit("ILOADI", zero.n, 0)
            em.emit("INE", acc.n, acc.n, zero.n)
            em.emit("IRET", acc.n)
        return make

    def value_maker(self, value: ast.Expr, row: str | None = None):
        def make(s) -> None:
            em = s.em
            if row is not None:
                em.rows.append((row, em.params[0]))
            r = s.exprs.expr_as(value, em.result)
            em.emit(RETURN[kind_of(em.result)], r.n)
        return make, value

    def ctor_maker(self, name: str):
        def make(s) -> None:
            em = s.em
            out = em.temp("o")
            em.emit("RNEW", out.n, self.layout.layout_name(name))
            for f in self.layout.defaults[name]:
                if f.decl is not None:
                    em.at(f.decl)
                if f.default is not None:
                    s.data.set_fresh(out, name, f.name, f.default)
                else:
                    v = em.temp(f.type)
                    s.stmts.default_value(f.type, v)
                    s.data.set_fresh(out, name, f.name, (v, f.type))
                    em.free(v)
            em.emit("ORET", out.n)
        return make, None

    def gen_init(self, s) -> None:
        """`$init`: the document's fields whose defaults need code."""
        em = s.em
        for f in self.layout.doc_computed:
            if f.decl is not None:
                em.pos = em.position(f.decl.span)
            v = em.temp(f.type)
            if f.default is not None:
                s.exprs.expr_as(f.default, f.type, v)
            else:
                s.stmts.default_value(f.type, v)
            em.emit(FSET[v.bank], v.n, self.layout.doc_slot(f.name))
            em.free(v)
        em.emit("RET")


def declare_bodies(info, layout: Layout, asm) -> list[Body]:
    """Create every function of the module in `asm`; the bodies to write."""
    d = Declarations(info, layout, asm)
    d.declare_all()
    return d.bodies


class Meta:
    """The module's `meta`: what the runtime and the views read."""

    @staticmethod
    def reads_context(info) -> bool:
        bodies = [ch.decl.body for ch in info.channels.values() if ch.complete and ch.decl.body is not None]
        bodies += [h.decl.body for e in ("connected", "disconnected") if e in info.handlers
                   for h in info.handlers[e].all]
        return any(isinstance(n, ast.Special) and n.name == "context" for b in bodies for n in ast.walk(b))

    def __init__(self, info, layout: Layout, asm):
        self.info, self.layout, self.asm = info, layout, asm

    def fields_meta(self, fields: dict, slots: dict) -> list:
        out = []
        for f in fields.values():
            out.append({"name": f.name, "slot": slots[f.name], "type": describe(f.type),
                        "privacy": f.privacy, "privacy_names": list(f.privacy_names),
                        "readonly": bool(f.readonly)})
            if f.decl is not None and f.decl.was:  # earlier names (`@was`), spec/runtime.md 9.2
                out[-1]["was"] = [w.text for w in f.decl.was]
        return out

    def formula_meta(self, fo, fn: str) -> dict:
        meta = {"fn": fn, "type": describe(fo.type), "privacy": fo.privacy,
                "privacy_names": list(fo.privacy_names), "reads": sorted(fo.reads), "bubble": fo.bubble}
        if fo.viewer:
            meta["viewer"] = True  # a record's bubble that takes the viewer's state after its row
        return meta

    def views_meta(self) -> dict:
        """What views/viewers.py needs to cache per-viewer results: for every policy,
        formula and bubble, what it reads (the record's fields under "reads",
        the document's under "doc_reads") and whether it reads the clock (the
        effects the checker stored, effects.py)."""
        info = self.info
        return {
            "policies": {n: {"fn": policy_fn(n), **p.effects.meta(), **({"filter": True} if p.decl.filter else {})}
                         for n, p in info.policies.items()},
            "formulas": {n: fo.effects.meta() for n, fo in info.formulas.items()},
            "records": {
                s.name: {
                    "policies": {n: {"fn": f"rpolicy.{s.name}.{n}", **p.effects.meta()}
                                 for n, p in s.policies.items()},
                    "formulas": {n: fo.effects.meta() for n, fo in s.formulas.items()},
                }
                for s in info.records.values()
            },
        }

    def build_meta(self) -> dict:
        info = self.info
        records = {}
        for s in info.records.values():
            records[s.name] = {
                "layout": self.asm.record_index(self.layout.layout_name(s.name)),
                "fields": self.fields_meta(s.fields, self.layout.slots[s.name]),
                "owner_slot": self.layout.owner_slot(s.name),
                "new": self.layout.ctors[s.name],
                "indexes": list(s.indexes),
                "requires": [f"rpolicy.{s.name}.{p}" if p in s.policies else f"policy.{p}" for p in s.requires],
                "formulas": {n: self.formula_meta(fo, self.layout.record_formula_fn(s.name, n))
                             for n, fo in s.formulas.items()},
                "policies": {n: f"rpolicy.{s.name}.{n}" for n in s.policies},
            }
        messages = {}
        for s in info.messages.values():
            messages[s.name] = {
                "layout": self.asm.record_index(self.layout.layout_name(s.name)),
                "fields": self.fields_meta(s.fields, self.layout.slots[s.name]),
                "new": self.layout.ctors[s.name],
                **({"parsed": f"parsed.{s.name}"} if isinstance(s.decl, ast.MessageDecl) and s.decl.parsed else {}),
            }
        channels = {}
        for ch in info.channels.values():
            channels[ch.name] = {"fn": f"channel.{ch.name}" if ch.complete else None,
                                 "message": ch.message.name if isinstance(ch.message, T.MessageType) else None,
                                 "array": ch.is_array, "complete": ch.complete}
        handlers = {}
        for h in info.handlers.values():
            m = h.param_type if h.event == "authorization" else h.message  # @authorization's message
            handlers[h.event] = {"fn": f"on.{h.event}",
                                 "message": m.name if isinstance(m, T.MessageType) else None}
        budget = info.static.properties.get("instruction_budget")
        meta = {
            "version": META_VERSION,
            "document": {"fields": self.fields_meta(info.fields, self.layout.doc_slots),
                         "hidden": {name: i for i, (name, _, _) in enumerate(docslots.HIDDEN)}},
            "records": records,
            "messages": messages,
            "enums": {e.name: {"values": dict(e.values)} for e in info.enums.values()},
            "formulas": {n: self.formula_meta(fo, self.layout.formula_fn(n)) for n, fo in info.formulas.items()},
            "formula_order": info.formula_order(),
            "policies": {n: f"policy.{n}" for n, p in info.policies.items() if not p.decl.filter},
            "channels": channels,
            # spec/language.md 4.27: each method's messages, and whether it may be retried
            **({"services": {s.name: {m.name: {"input": m.input.name if m.input is not None else None,
                                                "output": m.output.name, "idempotent": m.idempotent}
                                      for m in s.methods.values()}
                             for s in info.services.values()}} if info.services else {}),
            # language.md 4.32: each space's methods this document calls, with
            # the message it sends (runtime/upgrade.py checks them at a deploy)
            **({"spaces": {s.name: {m: s.methods[m].input.name if s.methods[m].input is not None else None
                                    for m in sorted(s.used)}
                           for s in info.services.values() if s.space}}
               if any(s.space for s in info.services.values()) else {}),
            # language.md 4.31: each agent's settings and tools, each session field's agent
            **(_agents_meta(info) if info.agents else {}),
            # language.md 4.30: each replicated formula's service and method
            # and which of its fields are @silent (left out of its hash, runtime/replication.py)
            **({"replications": {n: {"service": fo.decl.service, "method": fo.decl.method,
                                     **({"silent": m} if (m := silent_mask(info, replicated_type(info, fo))) else {})}
                                 for n, fo in info.formulas.items() if isinstance(fo.decl, ast.Replication)}}
               if any(isinstance(fo.decl, ast.Replication) for fo in info.formulas.values()) else {}),
            # language.md 4.28: each handler's method, path ([kind, text or name, type]) and message
            **({"web": [{"method": w.method, "fn": w.fn,
                         "path": [[k, x, None if t is None else str(t)] for k, x, t in w.segments],
                         "message": w.message.name if isinstance(w.message, T.MessageType) else None}
                        for w in info.webs]} if info.webs else {}),
            "states": {n: self.layout.state_fn(n) for n in info.states},
            "handlers": handlers,
            # whether channels or @connected/@disconnected read @context: only then does a
            # server send carry its socket's (language.md 5.9)
            **({"reads_context": True} if self.reads_context(info) else {}),
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
            meta["viewer"] = VIEWER_MESSAGE  # the message of @viewer: every bubble takes one (a record's after its row)
        return meta


def _agents_meta(info) -> dict:
    """meta["agents"]: per agent its instructions, settings, mutables and tools
    (message names, description, mutating, method); meta["sessions"]: field -> agent;
    meta["session_asks"]: field -> the channel clients ask it through."""
    agents = {}
    for a in info.agents.values():
        settings = settings_of(a)
        agents[a.name] = {
            "instructions": settings.get("instructions", ""),
            "settings": settings,
            "mutables": list(a.mutables),
            "tools": {t.name: {"input": t.input.name, "output": t.output.name, "mutating": t.mutating,
                               "description": t.description, "fn": f"method.{a.name}.{t.name}"}
                      for t in a.tools},
        }
    sessions = {f.name: f.type.name for f in info.fields.values()
                if getattr(f.decl, "session", False) and isinstance(f.type, T.RecordType)}
    # the channel clients ask each session they may see through (compiler/agents.py ask_channel)
    asks = {f: ask_channel(f) for f in sessions if ask_channel(f) in info.channels}
    return {"agents": agents, "sessions": sessions, "session_asks": asks}


def replicated_type(info, fo):
    """What a replication sends: its method's input message (maybe empty)."""
    svc = info.services.get(fo.decl.service)
    method = svc.methods.get(fo.decl.method) if svc is not None else None
    return method.input if method is not None else fo.type


def silent_mask(info, t, seen: frozenset = frozenset()) -> dict | None:
    """Where a value of type `t` holds `@silent` message fields (Adama's flag: the
    field is left out of the message's hash), as the mask runtime/replication.py
    reads: {"fields": {name: True | mask}} for a message, {"each": mask} for the
    items of a list, an array or a map; None when it holds none."""
    t = T.strip_maybe(t)
    if isinstance(t, (T.ListType, T.ArrayType)):
        inner = silent_mask(info, t.element, seen)
        return {"each": inner} if inner else None
    if isinstance(t, T.MapType):
        inner = silent_mask(info, t.value, seen)
        return {"each": inner} if inner else None
    s = info.struct(t.name) if isinstance(t, T.MessageType) and t.name not in seen else None
    if s is None:
        return None
    fields = {}
    for name, f in s.fields.items():
        if f.decl is not None and "@silent" in f.decl.flags:
            fields[name] = True
        elif (inner := silent_mask(info, f.type, seen | {t.name})) is not None:
            fields[name] = inner
    return {"fields": fields} if fields else None


def policy_fn(name: str) -> str:
    """A document policy's function; a view filter (kept as the policy `|f`) is `filter.f`."""
    return f"filter.{name[1:]}" if name.startswith("|") else f"policy.{name}"


def module_meta(info, layout: Layout, asm) -> dict:
    return Meta(info, layout, asm).build_meta()


__all__ = ["Body", "META_VERSION", "declare_bodies", "module_meta"]
