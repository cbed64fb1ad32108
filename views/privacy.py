"""Per-viewer filtering: what one principal may see of a document, as plain JSON.

`Schema` reads the module's meta once: for the document and every record type,
its members (fields, formulas, bubbles) with their privacy, the policies they
name resolved to functions, and whether rendering a type depends on the viewer
at all. `Renderer` turns machine values into the plain view of spec/protocol.md
section 9 for one viewer; the viewer's side (who it is, how a policy, formula
or bubble is evaluated) is a *context*. `FreshContext` evaluates everything
directly: `render_view(document, who)` with it is the reference view every
optimisation in views/viewers.py must equal.

The rules (spec/language.md 4.2, 4.9, 4.10; spec/protocol.md 9):
- `public` members are shown, `private` never, `viewer_is<f>` when field f (of
  the same record, else of the document) holds the viewer, `use_policy<p, q>`
  when every named policy (the record's, else the document's) returns true
  with @who = viewer and, for record policies, the record in scope;
- bubbles are computed per viewer and shown to that viewer, a guarded one
  (`bubble<p, q>`, privacy use_policy) only when every policy admits it;
- a record whose `require` policies do not all pass is left out: from lists
  and tables, from maps (the entry goes), and as a value (the member goes);
- items of lists and tables carry their `id` whatever its privacy (it keys the
  row in the encoded view);
- messages and anonymous objects have no privacy: all their fields show;
- longs are decimal strings (Adama's choice: JSON numbers lose precision past
  2^53 in JavaScript); doubles that are not finite are null (absent).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..vm.docslots import WHO, agent_of, as_principal, authority_of
from ..vm.errors import VMError
from ..vm.values import JsonWriter, enum_names
from .delta import encode_view
from .merge import materialize

PUBLIC, PRIVATE, VIEWER_IS, USE_POLICY = "public", "private", "viewer_is", "use_policy"


@dataclass(eq=False)
class Policy:
    """A policy as a member names it, resolved: `row` policies take the record."""

    name: str
    fn: str
    row: bool
    slots: frozenset  # record slots it reads (row policies)
    doc_reads: frozenset  # document fields/formulas it reads
    time: bool
    index: int = -1  # the machine's function index, filled by Schema.bind
    # a view filter (`filter f`, named `|f` in guards): it takes the viewer's own state (@viewer)
    # when the document declares one (spec/language.md 4.10.1)
    filter: bool = False


@dataclass(eq=False)
class Member:
    """A field, formula or bubble of a record type or of the document."""

    name: str
    kind: str  # 'field' | 'formula' | 'bubble'
    desc: object
    privacy: str
    slot: int = -1  # fields
    fn: str = ""  # formulas and bubbles
    viewer_is: list = field(default_factory=list)  # [(on_row, slot)]
    policies: list = field(default_factory=list)  # [Policy] for use_policy
    viewer: bool = False  # a record's bubble that takes the viewer's state (@viewer) after its row
    slots: frozenset = frozenset()  # record slots a record formula reads
    doc_reads: frozenset = frozenset()
    time: bool = False
    index: int = -1

    @property
    def decided_per_viewer(self) -> bool:
        return self.privacy in (VIEWER_IS, USE_POLICY)


@dataclass(eq=False)
class Shape:
    """The document or one record type, as views see it."""

    name: str
    members: list = field(default_factory=list)
    requires: list = field(default_factory=list)  # [Policy]
    id_slot: int = -1
    # rendering depends on the viewer somewhere inside (fixpoint over nesting)
    varies: bool = False
    # a row's rendering is a function of its content and `decisions()` alone;
    # False when bubbles or nested viewer-dependent values are involved
    maskable: bool = True
    doc_deps: frozenset = frozenset()  # document names its decisions/formulas read
    time: bool = False
    records: frozenset = frozenset()  # record types reachable from its members
    # decisions() without a viewer: True for public members (unguarded bubbles are public), False
    # otherwise; `decided` lists the positions a viewer's rights decide
    fixed: tuple = ()
    decided: tuple = ()

    def settle(self) -> None:
        self.fixed = tuple(m.privacy == PUBLIC for m in self.members)
        self.decided = tuple((i, m) for i, m in enumerate(self.members) if m.decided_per_viewer)


def records_in(desc) -> set:
    """Record types a value of type `desc` may hold."""
    if isinstance(desc, str):
        return set()
    head = desc[0]
    if head == "record":
        return {desc[1]}
    if head in ("maybe", "list", "future", "result"):
        return records_in(desc[1])
    if head == "map":
        return records_in(desc[2])
    if head == "table":
        return {desc[1]}
    if head == "anon":
        out = set()
        for _, d in desc[1]:
            out |= records_in(d)
        return out
    return set()


class Schema:
    def __init__(self, meta: dict):
        self.meta = meta
        views = meta.get("views")
        if views is None:
            raise ValueError("the module has no views metadata: recompile it with this advm")
        self.enum_names = enum_names(meta)
        self.messages = meta["messages"]
        self.formula_views = views["formulas"]
        doc_fields = {f["name"]: f for f in meta["document"]["fields"]}
        self.doc_fields = doc_fields
        self.doc_policies = {n: Policy(n, p["fn"], False, frozenset(), frozenset(p["doc_reads"]), p["time"],
                                       filter=bool(p.get("filter")))
                             for n, p in views["policies"].items()}
        self.filters = any(p.filter for p in self.doc_policies.values())
        self.records: dict[str, Shape] = {}
        for rname, rinfo in meta["records"].items():
            self.records[rname] = self._record_shape(rname, rinfo, views["records"].get(rname, {}))
        self.document = self._document_shape()
        self._close()

    # ------------------------------------------------------------ building

    def _row_policy(self, rname, pname, pv, slots_of) -> Policy:
        return Policy(pname, pv["fn"], True, frozenset(slots_of(pv["reads"])), frozenset(pv["doc_reads"]),
                      pv["time"])

    def _record_shape(self, rname: str, rinfo: dict, rviews: dict) -> Shape:
        slot = {f["name"]: f["slot"] for f in rinfo["fields"]}

        def slots_of(names):
            return [slot[n] for n in names if n in slot]

        policies = {n: self._row_policy(rname, n, pv, slots_of) for n, pv in rviews.get("policies", {}).items()}

        def policy(name: str) -> Policy:
            return policies.get(name) or self.doc_policies[name]

        def viewer_is(names):
            return [(True, slot[n]) if n in slot else (False, self.doc_fields[n]["slot"]) for n in names]

        shape = Shape(rname, id_slot=slot.get("id", -1))
        for f in rinfo["fields"]:
            shape.members.append(self._member(f, "field", policy, viewer_is))
        for fname, fo in rinfo["formulas"].items():
            fv = rviews.get("formulas", {}).get(fname, {})
            m = self._member(fo, "bubble" if fo["bubble"] else "formula", policy, viewer_is, name=fname)
            m.slots = frozenset(slots_of(fv.get("reads", fo.get("reads", []))))
            m.doc_reads = frozenset(fv.get("doc_reads", []))
            m.time = bool(fv.get("time", False))
            shape.members.append(m)
        for fn in rinfo["requires"]:
            pname = fn.rsplit(".", 1)[1]
            shape.requires.append(policy(pname))
        return shape

    def _member(self, f: dict, kind: str, policy, viewer_is, name: str | None = None) -> Member:
        privacy = f["privacy"]
        m = Member(name or f["name"], kind, f["type"], privacy, slot=f.get("slot", -1), fn=f.get("fn", ""),
                   viewer=bool(f.get("viewer")))
        if privacy == VIEWER_IS:
            m.viewer_is = viewer_is(f["privacy_names"])
        elif privacy == USE_POLICY:
            m.policies = [policy(n) for n in f["privacy_names"]]
        return m

    def _document_shape(self) -> Shape:
        def policy(name):
            return self.doc_policies[name]

        def viewer_is(names):
            return [(False, self.doc_fields[n]["slot"]) for n in names]

        shape = Shape("$document")
        for f in self.meta["document"]["fields"]:
            shape.members.append(self._member(f, "field", policy, viewer_is))
        bubbles = []
        for name in self.meta["formula_order"]:
            fo = self.meta["formulas"][name]
            fv = self.formula_views.get(name, {})
            m = self._member(fo, "bubble" if fo["bubble"] else "formula", policy, viewer_is, name=name)
            m.doc_reads = frozenset(fv.get("doc_reads", fo["reads"]))
            m.time = bool(fv.get("time", False))
            (bubbles if fo["bubble"] else shape.members).append(m)
        shape.members.extend(bubbles)
        return shape

    def _close(self) -> None:
        """Which shapes vary per viewer and what document state their rendering
        depends on, through nesting (a fixpoint: record types may nest)."""
        shapes = list(self.records.values())
        for s in shapes:
            reach = set()
            for m in s.members:
                reach |= records_in(m.desc)
            s.records = frozenset(reach)
        changed = True
        while changed:
            changed = False
            for s in shapes:
                varies = bool(s.requires) or any(m.decided_per_viewer or m.kind == "bubble" for m in s.members)
                deps = set()
                time = False
                for p in s.requires:
                    deps |= p.doc_reads
                    time |= p.time
                for m in s.members:
                    for p in m.policies:
                        deps |= p.doc_reads
                        time |= p.time
                    deps |= {self.doc_field_name(slot) for on_row, slot in m.viewer_is if not on_row}
                    deps |= m.doc_reads
                    time |= m.time
                nested = False
                for r in s.records:
                    inner = self.records[r]
                    nested |= inner.varies
                    deps |= inner.doc_deps
                    time |= inner.time
                varies |= nested
                maskable = not nested and not any(m.kind == "bubble" for m in s.members)
                new = (varies, maskable, frozenset(deps), time)
                if new != (s.varies, s.maskable, s.doc_deps, s.time):
                    s.varies, s.maskable, s.doc_deps, s.time = new
                    changed = True
        for s in [*shapes, self.document]:
            s.settle()

    def doc_field_name(self, slot: int) -> str:
        for name, f in self.doc_fields.items():
            if f["slot"] == slot:
                return name
        raise KeyError(slot)

    def bind(self, module) -> None:
        """Resolve function names to the machine's indices (calls by index skip a lookup)."""
        index = module.function_index
        for p in self.doc_policies.values():
            p.index = index(p.fn)
        for s in list(self.records.values()) + [self.document]:
            for m in s.members:
                if m.fn:
                    m.index = index(m.fn)
                for p in m.policies:
                    p.index = index(p.fn)
            for p in s.requires:
                p.index = index(p.fn)

    def varies(self, desc) -> bool:
        """Whether rendering a value of type `desc` can depend on the viewer."""
        return any(self.records[r].varies for r in records_in(desc))

    def type_deps(self, desc) -> tuple[frozenset, bool]:
        """Document names and clock that rendering a value of `desc` reads."""
        deps, time = set(), False
        for r in records_in(desc):  # doc_deps already include nested types (_close)
            deps |= self.records[r].doc_deps
            time |= self.records[r].time
        return frozenset(deps), time


# ---------------------------------------------------------------- contexts

class FreshContext:
    """Evaluates every policy, formula and bubble when asked: the reference.
    `who` is a principal; None renders only what needs no viewer. `state` is
    the viewer's own state (the message of `view` declarations, @viewer) that
    every bubble takes when the document declares one, else None."""

    def __init__(self, machine, who: str | None, state=None):
        self.machine = machine
        self.who = as_principal(who) if who is not None else None
        self.state = state

    def _call(self, index, *args):
        if self.who is not None:
            self.machine.doc.f[WHO] = self.who
        return self.machine.call(index, *args)

    def passes(self, policy: Policy, rec) -> bool:
        if self.who is None:
            return False
        try:
            if policy.row:
                return bool(self._call(policy.index, rec))
            if policy.filter and self.state is not None:
                return bool(self._call(policy.index, self.state))
            return bool(self._call(policy.index))
        except VMError:
            return False  # a policy that fails shows nothing

    def formula(self, member: Member, rec):
        try:
            return self._call(member.index, rec) if rec is not None else self._call(member.index)
        except VMError:
            return None  # a formula that fails is absent

    def bubble(self, member: Member, rec):
        if self.who is None:
            return None
        if self.state is not None and (rec is None or member.viewer):  # a record's after its row
            try:
                return self._call(member.index, rec, self.state) if rec is not None \
                    else self._call(member.index, self.state)
            except VMError:
                return None  # a bubble that fails is absent
        # per viewer: FreshContext's, never a subclass's shared caches
        return FreshContext.formula(self, member, rec)


def viewer_state(document, data):
    """The viewer's own state as the machine holds it: the message of the
    document's `view` declarations built from the client's JSON object
    (missing fields take their defaults, unknown ones are ignored), or None
    when the document declares none. Raises ValueError when it does not fit."""
    name = document.meta.get("viewer")
    if name is None:
        return None
    if data is not None and not isinstance(data, dict):
        raise ValueError(f"viewer state must be a JSON object, not {type(data).__name__}")
    return document.message(name, data or {})


# ---------------------------------------------------------------- rendering

def shown_members(rec, shape: Shape, ctx, seen: tuple, row: bool):
    """What a viewer sees of a record, given its `decisions()`: (name, value,
    desc) for a row's id first (desc None: the id as it is), then for each
    member shown, its value (a field's, a formula's or a bubble's). The one
    walk of a record's members: the plain view (`Renderer.record_as`) and the
    encoded one (views/viewers.py `_enc_record`) each turn the values into
    their own form."""
    f = rec.f
    if row and shape.id_slot >= 0:
        yield "id", f[shape.id_slot], None
    for m, shown in zip(shape.members, seen):
        if not shown:
            continue
        kind = m.kind
        if kind == "field":
            yield m.name, f[m.slot], m.desc
        elif kind == "formula":
            yield m.name, ctx.formula(m, rec), m.desc
        else:
            yield m.name, ctx.bubble(m, rec), m.desc


def decisions(shape: Shape, rec, ctx, doc_f) -> tuple | None:
    """Which members of `rec` the viewer sees (one bool per member), or None
    when a `require` policy hides the whole record."""
    for p in shape.requires:
        if not ctx.passes(p, rec):
            return None
    if not shape.decided:
        return shape.fixed
    seen = list(shape.fixed)
    for i, m in shape.decided:
        seen[i] = visible(m, rec, ctx, doc_f)
    return tuple(seen)


def visible(m: Member, rec, ctx, doc_f) -> bool:
    privacy = m.privacy  # a bubble's is public, or use_policy for bubble<p, q>
    if privacy == PUBLIC:
        return True
    if privacy == PRIVATE:
        return False
    if privacy == VIEWER_IS:
        who = ctx.who
        if who is None:
            return False
        for on_row, slot in m.viewer_is:
            if (rec.f[slot] if on_row else doc_f[slot]) == who:
                return True
        return False
    for p in m.policies:
        if not ctx.passes(p, rec):
            return False
    return True


class Renderer(JsonWriter):
    """Machine values to plain JSON for one viewer context: vm/values.py's
    JsonWriter with privacy (records and rows through `decisions()`), longs
    as decimal text, and nothing for values never shown (futures)."""

    long_as_text = True

    def __init__(self, schema: Schema, machine):
        super().__init__(schema.meta, schema.enum_names)
        self.schema = schema
        self.machine = machine

    def record(self, rec, name: str, ctx):
        """A record as a value (not a row): None when the viewer may not see it."""
        shape = self.schema.records[name]
        seen = decisions(shape, rec, ctx, self.machine.doc.f)
        if seen is None:
            return None
        return self.record_as(rec, shape, ctx, seen, row=False)

    def rows(self, items, name: str, ctx) -> list:
        """The rows the viewer may see, each with its id."""
        shape = self.schema.records[name]
        out = []
        doc_f = self.machine.doc.f
        for rec in items:
            seen = decisions(shape, rec, ctx, doc_f)
            if seen is not None:
                out.append(self.record_as(rec, shape, ctx, seen, row=True))
        return out

    def other(self, v, desc):
        return None  # futures and the like are never shown

    def record_as(self, rec, shape: Shape, ctx, seen: tuple, row: bool) -> dict:
        """The record's plain JSON given the viewer's `decisions()`."""
        out = {}
        for name, value, desc in shown_members(rec, shape, ctx, seen, row):
            out[name] = value if desc is None else self.value(value, desc, ctx)
        return out

    def document(self, ctx, formula=None) -> dict:
        """The whole plain view. `formula(member)` gives a document formula's
        value (default: the context evaluates it)."""
        shape = self.schema.document
        doc = self.machine.doc
        doc_f = doc.f
        out = {}
        for m in shape.members:
            if not visible(m, doc, ctx, doc_f):
                continue
            if m.kind == "field":
                value = doc_f[m.slot]
            elif m.kind == "formula":
                value = formula(m) if formula is not None else ctx.formula(m, None)
            else:
                value = ctx.bubble(m, None)
            out[m.name] = self.value(value, m.desc, ctx)
        return out


def render_view(document, who: str, schema: Schema | None = None, state=None) -> dict:
    """The plain view `who` may see, evaluated from scratch (the reference), in
    the form a client holds it: what the encoded view materializes to (no null
    members, tables and lists as arrays). `state` is the viewer's own state as
    JSON (None: every field at its default)."""
    machine = document.machine
    if schema is None:
        schema = Schema(document.meta)
        schema.bind(machine.module)
    saved = machine.doc.f[WHO]
    try:
        ctx = FreshContext(machine, who, viewer_state(document, state))
        plain = Renderer(schema, machine).document(ctx)
    finally:
        machine.doc.f[WHO] = saved
    return materialize(encode_view(plain))


__all__ = ["FreshContext", "Member", "Policy", "Renderer", "Schema", "Shape", "decisions", "records_in", "shown_members",
           "render_view", "viewer_state", "visible"]
