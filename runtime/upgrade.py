"""New code for a living document (issue 14; spec/runtime.md 9).

    plan = compare(old_module, new_module)     # proved from the two modules, no document
    if plan.refused: print(plan.report())      # nothing may move
    living, frames = upgrade(living, new_module, plan)   # one document, between inputs

`compare` reads the two modules' type descriptors (the compiler's meta) and
decides, for every document field and every record, enum and message type a
field can reach, how an old value becomes a new one: fields are matched by
name, a field only the new code has takes its default (the new module's field
initialisers), a field only the old code has is dropped (listed), a type may
widen (int -> long, int -> double, long -> double, T -> maybe<T>, and the same
inside lists, maps, maybes, records and tables); any other change of type, an
enum value name that disappears, and a table whose row type changes its name
are refused. Records are mapped by field name (they are stored positionally:
spec/snapshot.md 3.1), enums by value name.

`upgrade` moves one document: refused when the document itself blocks it
(its state or pending transition names a state the new code lacks, an open
ask or a queued input is on a channel the new code removed), and deferred
(`Deferred`) while a block is suspended at an await: that activation finishes
on the code it started on, and the document moves at the first input boundary
with no suspended frame (spec/runtime.md 9.3). Never is a frame resumed in
code it does not match.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from ..vm._machine import Record
from ..vm.continuation import Continuation
from ..vm.disasm import instructions
from ..vm.table import INDEX, NEXT, OWNER_SLOT, ROWS
from .engine import Engine, gc_paused
from .living import LivingDocument
from .schedule import Crons

# Widening conversions (old scalar type -> new scalar type) an upgrade makes.
WIDEN = {("int", "long"): int, ("int", "double"): float, ("long", "double"): float}
# Widenings whose value is the very same Python object (an int is an int, however wide).
SAME_VALUE = {("int", "long")}


class UpgradeRefused(Exception):
    """The new code cannot take this state: `reasons` say what blocks it."""

    def __init__(self, reasons: list[str]):
        self.reasons = list(reasons)
        super().__init__("; ".join(self.reasons))


class Deferred(Exception):
    """A block is suspended at an await: the document stays on its code until
    that activation completes (spec/runtime.md 9.3)."""


@dataclass
class Plan:
    old_id: str
    new_id: str
    added: list[str] = field(default_factory=list)     # document fields the new code adds
    removed: list[str] = field(default_factory=list)   # document fields dropped
    widened: list[str] = field(default_factory=list)   # "name: int -> long"
    records: list[str] = field(default_factory=list)   # per record type: fields added/dropped
    channels_removed: list[str] = field(default_factory=list)
    states_removed: list[str] = field(default_factory=list)
    renamed: dict = field(default_factory=dict)         # declared renames: old field name -> new
    # record fields renamed by `@was`: record name -> {old field name: new}
    record_renames: dict = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)   # why no document may move

    @property
    def same(self) -> bool:
        return self.old_id == self.new_id

    def report(self) -> str:
        lines = [f"upgrade {self.old_id} -> {self.new_id}"]
        for old_name, new_name in self.renamed.items():
            lines.append(f"  field renamed (declared): {old_name} -> {new_name}")
        for record, moves in self.record_renames.items():
            for old_name, new_name in moves.items():
                lines.append(f"  record field renamed (declared): {record}.{old_name} -> {record}.{new_name}")
        for title, items in (("fields added (take their defaults)", self.added),
                             ("fields removed (dropped)", self.removed),
                             ("types widened", self.widened), ("records", self.records),
                             ("channels removed", self.channels_removed),
                             ("states removed", self.states_removed)):
            for item in items:
                lines.append(f"  {title}: {item}")
        if self.refused:
            lines.append("REFUSED:")
            lines += [f"  {r}" for r in self.refused]
        else:
            lines.append("compatible")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {k: getattr(self, k) for k in ("old_id", "new_id", "added", "removed", "widened", "records",
                                              "channels_removed", "states_removed", "renamed", "record_renames",
                                              "refused")}

    def renames(self) -> dict:
        """The renames an upgrade applies, as the log's `upgrade` event keeps
        them: {"fields": {old: new}, "records": {R: {old: new}}} (empty parts left out)."""
        out = {}
        if self.renamed:
            out["fields"] = dict(self.renamed)
        if self.record_renames:
            out["records"] = {r: dict(m) for r, m in self.record_renames.items()}
        return out


def earlier_names(ofields: dict, nfields: dict) -> dict:
    """The renames a new code declares with `@was(old, ...)` (spec/runtime.md
    9.2), as {old name: new name}: for each new field the old code lacks, the
    first of its earlier names the old code has and the new code does not."""
    out = {}
    for name, f in nfields.items():
        if name in ofields:
            continue  # the document already has this name: the annotation is history
        for w in f.get("was", ()):
            if w in ofields and w not in nfields and w not in out:
                out[w] = name
                break
    return out


def _name(desc) -> str:
    if isinstance(desc, str):
        return desc
    return f"{desc[0]}<{', '.join(_name(d) for d in desc[1:]) if desc[0] != 'anon' else '...'}>"


class _Checker:
    def __init__(self, old: dict, new: dict, plan: Plan):
        self.old, self.new, self.plan = old, new, plan
        self.seen: set = set()

    def struct(self, kind: str, name: str, where: str) -> None:
        key = (kind, name)
        if key in self.seen:
            return
        self.seen.add(key)
        group = "records" if kind == "record" else "messages"
        o, n = self.old[group].get(name), self.new[group].get(name)
        if n is None:
            self.plan.refused.append(f"{where}: {kind} {name} is gone from the new code")
            return
        ofields = {f["name"]: f for f in o["fields"]}
        nfields = {f["name"]: f for f in n["fields"]}
        moves = earlier_names(ofields, nfields)
        if moves:
            self.plan.record_renames[name] = moves
        added = [f for f in nfields if f not in ofields and f not in moves.values()]
        dropped = [f for f in ofields if f not in nfields and f not in moves]
        if added or dropped:
            self.plan.records.append(f"{kind} {name}: added {added or '-'}, dropped {dropped or '-'}")
        for fname, f in nfields.items():
            if fname in ofields:
                self.value(ofields[fname]["type"], f["type"], f"{kind} {name}.{fname}")
        for a, b in moves.items():
            self.value(ofields[a]["type"], nfields[b]["type"], f"{kind} {name}.{a} -> {b}")

    def value(self, a, b, where: str) -> None:
        """Whether a value of type `a` becomes one of type `b` (else refused)."""
        if isinstance(a, str) or isinstance(b, str):
            if a == b:
                return
            if isinstance(a, str) and isinstance(b, str) and (a, b) in WIDEN:
                self.plan.widened.append(f"{where}: {a} -> {b}")
                return
            if not isinstance(b, str) and b[0] == "maybe":
                self.value(a, b[1], where)
                if not any(w.startswith(where + ":") for w in self.plan.widened):
                    self.plan.widened.append(f"{where}: {_name(a)} -> {_name(b)}")
                return
            self._refuse(where, a, b)
            return
        ha, hb = a[0], b[0]
        if hb == "maybe" and ha != "maybe":
            self.value(a, b[1], where)
            self.plan.widened.append(f"{where}: {_name(a)} -> {_name(b)}")
            return
        if ha != hb:
            self._refuse(where, a, b)
            return
        if ha == "maybe" or ha == "list":
            self.value(a[1], b[1], where + "[]")
        elif ha == "map":
            if a[1] != b[1]:
                self._refuse(where + " (key)", a[1], b[1])
            self.value(a[2], b[2], where + "{}")
        elif ha in ("record", "message", "table"):
            if a[1] != b[1]:
                self._refuse(where, a, b)
                return
            self.struct("message" if ha == "message" else "record", a[1], where)
        elif ha == "enum":
            if a[1] != b[1]:
                self._refuse(where, a, b)
                return
            old_names = self.old["enums"][a[1]]["values"]
            new_names = self.new["enums"].get(b[1], {}).get("values", {})
            gone = [v for v in old_names if v not in new_names]
            if gone:
                self.plan.refused.append(f"{where}: enum {a[1]} loses {gone}: a document may hold "
                                         "them; keep the names (values are mapped by name)")
        elif a != b:
            self._refuse(where, a, b)

    def _refuse(self, where: str, a, b) -> None:
        self.plan.refused.append(f"{where}: {_name(a)} cannot become {_name(b)} (only int -> long, "
                                 "int -> double, long -> double and T -> maybe<T> widen; keep the "
                                 "old field and add a new one, filled by @load)")


def compare(old_module, new_module, renames: dict | None = None) -> Plan:
    """The upgrade plan from `old_module` to `new_module`, decided from their
    compiled types alone (spec/runtime.md 9.2). A rename is never guessed: the
    new code declares it (`public int score @was(points);`), or `renames`
    does (old name -> new name; `advm deploy --rename`)."""
    old, new = old_module.meta, new_module.meta
    plan = Plan(old_module.module_id(), new_module.module_id())
    ofields = {f["name"]: f for f in old["document"]["fields"]}
    nfields = {f["name"]: f for f in new["document"]["fields"]}
    declared = earlier_names(ofields, nfields)
    for a, b in (renames or {}).items():
        if declared.get(a, b) != b or (b in declared.values() and declared.get(a) != b):
            plan.refused.append(f"rename {a} -> {b}: the new code declares another rename of it "
                                f"(@was: {', '.join(f'{x} -> {y}' for x, y in declared.items())})")
    for a, b in {**declared, **(renames or {})}.items():
        if a not in ofields or a in nfields:
            plan.refused.append(f"rename {a} -> {b}: the old code has no field {a}, or the new code keeps it")
        elif b not in nfields or b in ofields:
            plan.refused.append(f"rename {a} -> {b}: the new code has no field {b}, or the old code has one")
        else:
            plan.renamed[a] = b
    kept = set(ofields) & set(nfields) | set(plan.renamed)
    plan.added = [n for n in nfields if n not in ofields and n not in plan.renamed.values()]
    plan.removed = [n for n in ofields if n not in nfields and n not in plan.renamed]
    if ofields and not kept:
        plan.refused.append("the new code keeps none of the document's fields "
                            f"({', '.join(sorted(ofields))}): a different program, not a new version")
    check = _Checker(old, new, plan)
    for name, f in nfields.items():
        if name in ofields:
            check.value(ofields[name]["type"], f["type"], name)
    for a, b in plan.renamed.items():
        check.value(ofields[a]["type"], nfields[b]["type"], f"{a} -> {b}")
    plan.channels_removed = sorted(c for c in old["channels"] if c not in new["channels"])
    for c, info in old["channels"].items():
        n = new["channels"].get(c)
        if n is not None and info.get("message") and info["message"] != n.get("message"):
            plan.refused.append(f"channel {c}: its message changes from {info['message']} to "
                                f"{n.get('message')}; clients' queued inputs and open asks would not parse")
        elif n is not None and info.get("message"):
            check.struct("message", info["message"], f"channel {c}")
    plan.states_removed = sorted(s for s in old["states"] if s not in new["states"])
    return plan


def blockers(living, new_module, plan: Plan) -> list[str]:
    """What in this document keeps it from the new code (empty: it may move,
    now or once its suspended block finishes)."""
    return list(plan.refused) + _blockers(living, plan, new_module.meta)


def _blockers(living, plan: Plan, new_meta: dict) -> list[str]:
    doc = living.engine
    out = []
    state = doc.state
    if state and state not in new_meta["states"]:
        out.append(f"the document is in state #{state}, which the new code lacks (keep the state)")
    if living.pending is not None and living.pending.label not in new_meta["states"]:
        out.append(f"a transition to #{living.pending.label} is pending, which the new code lacks")
    for ask in doc.asks.asks.values():
        if ask.channel in plan.channels_removed:
            out.append(f"ask {ask.id} is open on channel {ask.channel}, which the new code removes")
    for item in living.queue:
        if item.get("channel") in plan.channels_removed:
            out.append(f"an input on channel {item['channel']} is queued, which the new code removes")
    return out


class _SameCode:
    """Whether functions of two modules are the same code (spec/runtime.md 9.3):
    equal signatures, register counts and constants, and instruction by
    instruction the same opcode and operands, where a callee must itself be
    the same code (by this test, assumed while it is being checked), a host
    import the same name and signature, a record layout the same name, fields
    and kinds, and a field slot mean the same field in every record type that
    has it. Source positions may differ. Sound, not complete: code that would
    behave the same but is laid out differently is not the same here."""

    def __init__(self, old, new):
        self.old, self.new = old, new
        self.memo: dict[tuple[int, int], bool] = {}
        self.new_layouts = {r.name: r for r in new.records}
        self.why: str | None = None

    def function(self, i: int, j: int) -> bool:
        key = (i, j)
        if key in self.memo:
            return self.memo[key]
        self.memo[key] = True  # coinductive: a recursive call is checked once
        a, b = self.old.functions[i], self.new.functions[j]
        ok = (a.name == b.name and a.params == b.params and a.result == b.result and a.nregs == b.nregs
              and a.kint == b.kint and a.kdbl == b.kdbl and a.kobj == b.kobj and len(a.code) == len(b.code))
        if ok:
            for x, y in zip(instructions(self.old, a), instructions(self.new, b)):
                if x.op != y.op or x.width != y.width or len(x.operands) != len(y.operands) \
                        or not all(self._operand(p, q) for p, q in zip(x.operands, y.operands)):
                    ok = False
                    break
        if not ok and self.why is None:
            self.why = f"function {a.name} is not the same code in both modules"
        self.memo[key] = ok
        return ok

    def _operand(self, p, q) -> bool:
        kind = p.kind
        if kind == "fn":
            return p.value < len(self.old.functions) and q.value < len(self.new.functions) \
                and self.function(p.value, q.value)
        if kind == "host":
            a, b = self.old.hosts[p.value], self.new.hosts[q.value]
            return (a.name, a.params, a.result) == (b.name, b.params, b.result)
        if kind == "rec":
            a, b = self.old.records[p.value], self.new.records[q.value]
            return (a.name, a.fields, a.kinds) == (b.name, b.fields, b.kinds)
        if kind == "fld":
            return p.value == q.value and self._slot(p.value)
        return p.value == q.value

    def _slot(self, v: int) -> bool:
        for a in self.old.records:
            if v < len(a.fields):
                b = self.new_layouts.get(a.name)
                if b is None or v >= len(b.fields) or b.fields[v] != a.fields[v] or b.kinds[v] != a.kinds[v]:
                    return False
        return True


def in_canary(key: str, prefix: str | None, percent: int | None) -> bool:
    """Whether a canary deploy moves document `key` (spec/runtime.md 9.1): its
    key starts with `prefix`, and its key's SHA-256 (first 8 bytes, mod 100) is
    below `percent` (the same documents every time; raising it only adds)."""
    import hashlib

    if prefix is not None and not key.startswith(prefix):
        return False
    if percent is not None:
        return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big") % 100 < percent
    return True


def movable_frames(old_module, new_module, cont) -> str | None:
    """None when every frame of the suspended block runs the same code in both
    modules (it may resume there); else why not."""
    same = _SameCode(old_module, new_module)
    for frame in cont.frames:
        name = old_module.functions[frame[0]].name
        try:
            j = new_module.function_index(name)
        except KeyError:
            return f"function {name} is gone from the new code"
        if not same.function(frame[0], j):
            return same.why
    return None


class _Mapper:
    """Old machine values to new ones, following the plan's rules; a value
    reached twice is mapped once (a row a list also holds stays that row)."""

    def __init__(self, old: dict, new: dict, machine):
        self.old, self.new, self.machine = old, new, machine
        self.memo: dict[int, object] = {}
        self.plans: dict[tuple[str, str], tuple] = {}
        self.keep: list = []  # keeps mapped-from values alive while `memo` names them by id
        # Values whose type did not change at all are taken as they are (the
        # old runtime is dropped); not while frames move, whose registers must
        # find every value they share with the document in `memo`.
        self.reuse = True
        self._same: dict[tuple[str, str], bool] = {}

    def unchanged(self, a, b) -> bool:
        """Whether values of type `a` are values of type `b` as they are: the
        same descriptor, and every record, message and enum it reaches laid
        out the same in both modules (layout, slots, types, indexes, values)."""
        if a != b:
            return False
        if isinstance(a, str):
            return True
        head = a[0]
        if head in ("maybe", "list"):
            return self.unchanged(a[1], b[1])
        if head == "map":
            return self.unchanged(a[2], b[2])
        if head == "enum":
            return self.old["enums"][a[1]]["values"] == self.new["enums"].get(b[1], {}).get("values")
        if head in ("record", "table", "message"):
            group = "messages" if head == "message" else "records"
            key = (group, a[1])
            known = self._same.get(key)
            if known is not None:
                return known
            self._same[key] = True  # a type reaching itself: decided by its other fields
            o, n = self.old[group][a[1]], self.new[group].get(b[1])
            same = n is not None and o["layout"] == n["layout"] and o.get("indexes") == n.get("indexes") \
                and o.get("owner_slot") == n.get("owner_slot") \
                and [(f["name"], f["slot"], f["type"]) for f in o["fields"]] == \
                [(f["name"], f["slot"], f["type"]) for f in n["fields"]] \
                and all(self.unchanged(f["type"], f["type"]) for f in n["fields"])
            self._same[key] = same
            return same
        return True

    def value(self, v, a, b):
        if v is None:
            return None
        if self.reuse and self.unchanged(a, b):
            return v
        if isinstance(a, str) or isinstance(b, str):
            if a == b:
                return v
            if isinstance(b, list) and b[0] == "maybe":
                return self.value(v, a, b[1])
            return WIDEN[(a, b)](v)
        ha = a[0]
        if b[0] == "maybe" and ha != "maybe":
            return self.value(v, a, b[1])
        if ha == "maybe":
            return self.value(v, a[1], b[1])
        if ha == "enum":
            name = self.old["enums"][a[1]]["values"]
            by_value = {}
            for k, x in name.items():
                by_value.setdefault(x, k)
            return self.new["enums"][b[1]]["values"][by_value[v]]
        if ha in ("record", "message"):
            return self.struct(v, "records" if ha == "record" else "messages", a[1])
        if id(v) in self.memo:
            return self.memo[id(v)]
        if ha == "list":
            out = []
            self._remember(v, out)
            out.extend(self.value(x, a[1], b[1]) for x in v)
            return out
        if ha == "map":
            out = {}
            self._remember(v, out)
            for k, x in v.items():
                out[k] = self.value(x, a[2], b[2])
            return out
        return v  # dynamic, anonymous and other values unchanged (same type, checked)

    def any(self, v, old_module):
        """A register's value, typed by what it is: records by their layout's
        name, lists and maps by their items; scalars as they are."""
        if type(v) is Record:
            if id(v) in self.memo:
                return self.memo[id(v)]
            name = old_module.records[v.layout].name
            group, _, bare = name.partition(".")
            if group in ("record", "message"):
                return self.struct(v, group + "s", bare)
            raise Deferred(f"a suspended block holds a {name} value no field reaches")
        if type(v) is list:
            if id(v) in self.memo:
                return self.memo[id(v)]
            out = []
            self._remember(v, out)
            out.extend(self.any(x, old_module) for x in v)
            return out
        if type(v) is dict:
            if id(v) in self.memo:
                return self.memo[id(v)]
            out = {}
            self._remember(v, out)
            for k, x in v.items():
                out[k] = self.any(x, old_module)
            return out
        return v

    def _remember(self, old, new) -> None:
        self.memo[id(old)] = new
        self.keep.append(old)

    def _plan(self, group: str, name: str):
        """(new layout, copies, calls, others) of one record or message type,
        worked out once per upgrade: `copies` are (new slot, old slot) whose
        value is taken as it is (the same scalar type, or int -> long: the same
        Python int), `calls` (new slot, old slot, conversion) a scalar widened
        (int or long -> double), `others` (new slot, old slot, old type, new
        type) mapped by `value`."""
        found = self.plans.get((group, name))
        if found is None:
            o, n = self.old[group][name], self.new[group][name]
            ofields = {f["name"]: f for f in o["fields"]}
            for a, b in earlier_names(ofields, {f["name"]: f for f in n["fields"]}).items():
                ofields[b] = ofields.pop(a)  # `@was`: the old field's value under its new name
            copies, calls, others = [], [], []
            for f in n["fields"]:
                of = ofields.get(f["name"])
                if of is None:
                    continue
                a, b = of["type"], f["type"]
                if isinstance(a, str) and isinstance(b, str) and (a == b or (a, b) in SAME_VALUE):
                    copies.append((f["slot"], of["slot"]))
                elif isinstance(a, str) and isinstance(b, str) and (a, b) in WIDEN:
                    calls.append((f["slot"], of["slot"], WIDEN[(a, b)]))
                else:
                    others.append((f["slot"], of["slot"], a, b))
            found = self.plans[(group, name)] = (n["layout"], copies, calls, others)
        return found

    def struct(self, rec, group: str, name: str, plan=None):
        if id(rec) in self.memo:
            return self.memo[id(rec)]
        out = self.machine.new_record((plan or self._plan(group, name))[0])
        self.memo[id(rec)] = out
        self.keep.append(rec)
        self._fill(rec.f, out.f, plan or self._plan(group, name))
        return out

    def _fill(self, old: list, new: list, plan) -> None:
        _, copies, calls, others = plan
        for ns, os in copies:
            new[ns] = old[os]
        for ns, os, convert in calls:
            v = old[os]
            new[ns] = None if v is None else convert(v)
        for ns, os, a, b in others:
            new[ns] = self.value(old[os], a, b)

    def table(self, old, fresh, name: str):
        """The rows of table `old` into the new module's empty table `fresh`
        (the per-row loop of an upgrade: struct() inlined; the old rows stay
        alive with the old document, so `keep` need not hold them)."""
        self._remember(old, fresh)
        owner = fresh.f[OWNER_SLOT]
        rows = fresh.f[ROWS]
        plan = self._plan("records", name)
        layout, copies, calls, others = plan
        new_record, memo, fill = self.machine.new_record, self.memo, self._fill
        simple = not calls and not others
        for rid, row in old.f[ROWS].items():
            new_row = memo.get(id(row))
            if new_row is None:
                new_row = memo[id(row)] = new_record(layout)
                o, n = row.f, new_row.f
                if simple:
                    for ns, os in copies:
                        n[ns] = o[os]
                else:
                    fill(o, n, plan)
            new_row.f[owner] = fresh
            rows[rid] = new_row
        fresh.f[NEXT] = old.f[NEXT]
        index = fresh.f[INDEX]
        for slot, buckets in index.items():
            for rid, row in rows.items():
                buckets.setdefault(row.f[slot], {})[rid] = True
        return fresh


def upgrade(living, new_module, plan: Plan | None = None, *, viewers, restart_blocked: bool = False):
    """(runtime on `new_module`, frames): the document's state mapped to the
    new code, then @load (the migration hook), then the deltas its viewers
    are owed. Raises UpgradeRefused (nothing changed), or Deferred while a
    block waits at an await. With `restart_blocked`, a state block waiting
    at an await is dropped instead (its asks closed) and entered again from
    its start under the new code (Adama's rule; spec/runtime.md 9.3).
    Runs without the cyclic collector, as a wake does (gc_paused: the new
    rows are long-lived; left young, allocations would run collections over
    them while they are built and right after)."""
    with gc_paused():
        return _upgrade(living, new_module, plan, viewers=viewers, restart_blocked=restart_blocked)


def _upgrade(living, new_module, plan: Plan | None, *, viewers, restart_blocked: bool):
    doc = living.engine
    old_module = doc.module
    if plan is None:
        plan = compare(old_module, new_module)
    if plan.refused:
        raise UpgradeRefused(plan.refused)
    new_meta, old_meta = new_module.meta, old_module.meta
    blockers = _blockers(living, plan, new_meta)
    if blockers:
        raise UpgradeRefused(blockers)
    restart = None
    frames_move = doc.cont is not None and movable_frames(old_module, new_module, doc.cont) is None
    if doc.cont is not None and not frames_move:
        if not restart_blocked:
            raise Deferred(f"a block of state #{doc.state or '?'} is suspended at an await; it finishes "
                           "on the code it started on")
        outer = old_module.functions[doc.cont.frames[0][0]].name
        if not doc.state or old_meta["states"].get(doc.state) != outer:
            raise UpgradeRefused([f"the code waiting at an await is {outer}, not a state block: it "
                                  "cannot restart (deploy without --restart-blocked: it finishes first)"])
        restart = doc.state
    if living.queue:
        raise Deferred("inputs are queued; the document moves between inputs")
    # The new module's field defaults, from its own initialisers (a throwaway engine).
    fresh = Engine(new_module, key=doc.doc.f[new_meta["document"]["hidden"]["$key"]])
    fresh.machine.call(new_meta["init"])
    new_doc = fresh.machine.doc
    old_doc = doc.doc
    for hidden, slot in new_meta["document"]["hidden"].items():
        old_slot = old_meta["document"]["hidden"].get(hidden)
        if old_slot is not None:
            new_doc.f[slot] = old_doc.f[old_slot]
    mapper = _Mapper(old_meta, new_meta, fresh.machine)
    mapper.reuse = not frames_move
    ofields = {f["name"]: f for f in old_meta["document"]["fields"]}
    for a, b in plan.renamed.items():  # a declared rename: the old field's value under its new name
        ofields[b] = ofields.pop(a)
    tables = []
    for f in new_meta["document"]["fields"]:
        of = ofields.get(f["name"])
        if of is None:
            continue
        if not isinstance(of["type"], str) and of["type"][0] == "table":
            tables.append((of, f))  # after the other fields: memo makes shared rows the same
            continue
        new_doc.f[f["slot"]] = mapper.value(old_doc.f[of["slot"]], of["type"], f["type"])
    for of, f in tables:
        if mapper.reuse and mapper.unchanged(of["type"], f["type"]) \
                and old_meta.get("table_layout") == new_meta.get("table_layout"):
            new_doc.f[f["slot"]] = old_doc.f[of["slot"]]  # its rows point at it: taken whole
        else:
            new_doc.f[f["slot"]] = mapper.table(old_doc.f[of["slot"]], new_doc.f[f["slot"]], f["type"][1])
    cont = None
    if frames_move:  # the same code: the frames resume in the new module, their values mapped
        old_cont = doc.cont
        mapper.memo[id(old_doc)] = new_doc
        cont = Continuation(
            [[new_module.function_index(old_module.functions[f[0]].name), *f[1:]] for f in old_cont.frames],
            old_cont.ibank, old_cont.dbank, [mapper.any(v, old_module) for v in old_cont.obank],
            mapper.any(old_cont.payload, old_module), new_module.module_id())
    export = {"doc": new_doc, "rng": list(doc.machine.rng_state), "cont": cont,
              "asks": doc.asks.to_values(), "created": doc.created}
    # The new runtime built directly (what restore() builds from a snapshot,
    # without encoding and decoding the values: the snapshot committed with
    # the upgrade restores to this same state).
    moved = LivingDocument.__new__(LivingDocument)
    moved._setup(Engine.from_export(new_module, export), viewers)
    moved.viewers.load(living.viewers.state())
    moved.pending = living.pending
    if living.crons is not None:
        moved.crons = Crons(new_meta["crons"], living.crons.zone, doc.now)
        moved.crons.load(living.crons.to_values())
    moved.connected = list(living.connected)
    moved.queue = deque(living.queue)
    moved.outbox = list(living.outbox)
    moved.destroyed = living.destroyed
    # replicated values keep what the services acknowledged and the pending operation (language.md 4.30)
    moved.replicas.load(living.replicas.to_values())
    frames = []
    if moved.engine.created and not moved.destroyed and "load" in new_meta["handlers"]:
        frames += moved.migrate_load()
    elif restart is None:
        frames += moved.viewers.after_commit()
    if restart is not None:  # the waiting block's asks close; the state runs again, on the new code
        moved.engine.asks.withdraw_live()
        frames += moved._ask_frames()
        frames += moved._transact(None, lambda: moved.engine.run_state(restart, now=doc.now),
                                  label=restart)[2]
    return moved, frames


def _fits(sent, smeta: dict, got, gmeta: dict, seen: set) -> str | None:
    """Why a value of type `sent` (in the caller's meta) is not read as `got`
    (in the receiver's new meta), or None when it is: the same type, a
    widening, T into maybe<T>, and messages field by field (below)."""
    if sent == got and not isinstance(sent, list):
        return None
    if isinstance(sent, str) and isinstance(got, str):
        return None if (sent, got) in WIDEN else f"{sent} is not read as {got}"
    if isinstance(got, list) and got[0] == "maybe" and not (isinstance(sent, list) and sent[0] == "maybe"):
        return _fits(sent, smeta, got[1], gmeta, seen)
    if not (isinstance(sent, list) and isinstance(got, list)) or sent[0] != got[0] or len(sent) != len(got):
        return f"{_name(sent)} is not read as {_name(got)}"
    if sent[0] == "message":
        return _message_fits(sent[1], smeta, got[1], gmeta, seen)
    if sent[0] == "enum":
        gone = set(smeta["enums"][sent[1]]["values"]) - set(gmeta["enums"].get(got[1], {}).get("values", {}))
        return f"enum {got[1]} lost {', '.join(sorted(gone))}" if gone else None
    for a, b in zip(sent[1:], got[1:]):
        why = _fits(a, smeta, b, gmeta, seen)
        if why:
            return why
    return None


def _message_fits(sent: str, smeta: dict, got: str, gmeta: dict, seen: set) -> str | None:
    """Every field the caller's message sends is one the receiver's message
    reads, of a type that takes it; fields only the receiver has take their defaults."""
    if (sent, got) in seen:
        return None
    seen.add((sent, got))
    theirs = gmeta["messages"].get(got)
    if theirs is None:
        return f"message {got} is gone"
    fields = {f["name"]: f["type"] for f in theirs["fields"]}
    for f in smeta["messages"][sent]["fields"]:
        if f["name"] not in fields:
            return f"{got} has no field {f['name']} any more"
        why = _fits(f["type"], smeta, fields[f["name"]], gmeta, seen)
        if why:
            return f"{got}.{f['name']}: {why}"
    return None


def callers_refuse(space: str, new_meta: dict, callers: dict) -> list[str]:
    """What new code for space `space` no longer accepts of what its callers
    send (spec/language.md 4.32): `callers` {caller space: its module's meta};
    each caller's meta["spaces"][space] lists the methods it calls with the
    message it sends. One line per refusal, naming the caller."""
    out = []
    for caller, meta in sorted(callers.items()):
        for method, msg in sorted(((meta.get("spaces") or {}).get(space) or {}).items()):
            where = f"space {caller!r} calls {space}.{method}"
            if method == "create":
                want = (new_meta["handlers"].get("construct") or {}).get("message")
            else:
                ch = new_meta["channels"].get(method)
                if ch is None or not ch.get("complete") or ch.get("array"):
                    out.append(f"{where}: the new code has no channel {method!r} to send to")
                    continue
                want = ch["message"]
            if msg is None or want is None:
                if msg != want:
                    out.append(f"{where}: @construct takes {want or 'no message'}, the caller sends "
                               f"{msg or 'none'}")
                continue
            why = _message_fits(msg, meta, want, new_meta, set())
            if why:
                out.append(f"{where} with {msg}: {why}")
    return out


__all__ = ["Deferred", "Plan", "UpgradeRefused", "WIDEN", "blockers", "callers_refuse", "compare",
           "earlier_names", "in_canary", "movable_frames", "upgrade"]
