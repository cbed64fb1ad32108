"""What changed in a transaction, and formulas that recompute only then.

`ChangeTracker.observe()` tells, after each committed transaction, which
document fields changed, which table rows changed (and in which slots), which
rows left their tables, and whether the clock moved. It compares a frozen copy
of the document taken at the previous observation: the machine drops its undo
log at commit, so there is no cheaper record of what was written yet (the
request for one is R4 in .team/VM_REQUESTS.md; with it this becomes a walk over
the written slots). Comparing state rather than replaying a log has one virtue
kept on purpose: a transaction the caller forgot to report is still seen.

`Formulas` holds the document's formulas lazily: a value is computed on first
read and kept until something in its dependency closure (the compiler's read
sets, through other formulas, plus the clock for formulas that read `Time`)
changes. `evaluations` counts machine calls per formula, for tests.
"""
from __future__ import annotations

import json
from collections import Counter

from ._machine import Record
from .docslots import NOW
from .errors import VMError
from .table import ROWS

_MISSING = object()


class Changes:
    """One observation. `rows` maps a row that was in its table before and after
    to the slots that changed; rows that are new have nothing cached anywhere,
    and rows that left are in `gone`."""

    __slots__ = ("fields", "rows", "gone", "time", "everything")

    def __init__(self, fields=(), rows=None, gone=(), time=False, everything=False):
        self.fields = set(fields)
        self.rows = rows if rows is not None else {}
        self.gone = set(gone)
        self.time = time
        self.everything = everything

    def __bool__(self) -> bool:
        return bool(self.fields or self.time or self.everything)

    def __repr__(self) -> str:
        return (f"Changes(fields={sorted(self.fields)}, rows={len(self.rows)}, gone={len(self.gone)}, "
                f"time={self.time}, everything={self.everything})")


# ---------------------------------------------------------------- freezing

def _is_immutable(desc) -> bool:
    return isinstance(desc, str) and desc != "dynamic" or (not isinstance(desc, str) and desc[0] == "enum")


class Freezers:
    """Per type, a function from a machine value to an immutable value that is
    equal exactly when the view-relevant content is (None: the value already is
    immutable). Record types may nest, so struct freezers are looked up late."""

    def __init__(self, meta: dict):
        self.meta = meta
        self.structs: dict[tuple, object] = {}

    def of(self, desc):
        if _is_immutable(desc):
            return None
        if desc == "dynamic":
            return lambda v: json.dumps(v, sort_keys=False, default=repr)
        head = desc[0]
        if head == "maybe":
            inner = self.of(desc[1])
            if inner is None:
                return None
            return lambda v: None if v is None else inner(v)
        if head == "list":
            inner = self.of(desc[1])
            if inner is None:
                return tuple
            return lambda v: tuple(map(inner, v))
        if head == "map":
            inner = self.of(desc[2])
            if inner is None:
                return lambda v: tuple(v.items())
            return lambda v: tuple((k, inner(x)) for k, x in v.items())
        if head in ("record", "message"):
            return self.struct(head, desc[1])
        if head == "anon":
            parts = [(name, self.of(d)) for name, d in desc[1]]
            return lambda v: tuple(v.get(n) if f is None else f(v.get(n)) for n, f in parts)
        return lambda v: v

    def struct(self, kind: str, name: str):
        key = (kind, name)
        made = self.structs.get(key)
        if made is not None:
            return made
        fields = self.meta["records" if kind == "record" else "messages"][name]["fields"]
        parts = []

        def freeze(v):
            if v is None:
                return None
            f = v.f
            return tuple(f[slot] if fz is None else fz(f[slot]) for slot, fz in parts)

        self.structs[key] = freeze
        parts.extend((fd["slot"], self.of(fd["type"])) for fd in fields)
        return freeze

    def row(self, record: str):
        """A table row's frozen form: one entry per slot (so changed slots can be
        named), the hidden owner slot included as it is."""
        fields = self.meta["records"][record]["fields"]
        deep = [(fd["slot"], self.of(fd["type"])) for fd in fields]
        deep = [(slot, fz) for slot, fz in deep if fz is not None]
        if not deep:
            return lambda rec: tuple(rec.f)

        def freeze(rec):
            f = list(rec.f)
            for slot, fz in deep:
                f[slot] = fz(f[slot])
            return tuple(f)

        return freeze


class ChangeTracker:
    def __init__(self, machine, meta: dict):
        self.machine = machine
        freezers = Freezers(meta)
        self.scalars = []  # (name, slot)
        self.deep = []  # (name, slot, freeze)
        self.tables = []  # (name, slot, row freeze)
        for f in meta["document"]["fields"]:
            desc = f["type"]
            if not isinstance(desc, str) and desc[0] == "table":
                self.tables.append((f["name"], f["slot"], freezers.row(desc[1])))
            else:
                fz = freezers.of(desc)
                if fz is None:
                    self.scalars.append((f["name"], f["slot"]))
                else:
                    self.deep.append((f["name"], f["slot"], fz))
        self.last: dict | None = None

    def reset(self) -> None:
        """Forget the previous observation: the next one reports everything."""
        self.last = None

    def _take(self) -> dict:
        f = self.machine.doc.f
        state = {"$now": f[NOW]}
        for name, slot in self.scalars:
            state[name] = f[slot]
        for name, slot, fz in self.deep:
            state[name] = fz(f[slot])
        for name, slot, fz in self.tables:
            table = f[slot]
            rows = table.f[ROWS] if type(table) is Record else {}
            state[name] = (tuple(rows), {rec: fz(rec) for rec in rows.values()})
        return state

    def observe(self) -> Changes:
        now = self._take()
        last = self.last
        self.last = now
        if last is None:
            return Changes(fields=[n for n in now if n != "$now"], time=True, everything=True)
        changes = Changes(time=last["$now"] != now["$now"])
        fields = changes.fields
        for name, _ in self.scalars:
            a, b = last[name], now[name]
            if a is not b and (a != b or type(a) is not type(b)):
                fields.add(name)
        for name, _, _ in self.deep:
            if last[name] != now[name]:
                fields.add(name)
        for name, _, _ in self.tables:
            (ids_before, before), (ids_after, after) = last[name], now[name]
            touched = ids_before != ids_after
            for rec, frozen in after.items():
                old = before.get(rec, _MISSING)
                if old is _MISSING or old == frozen:
                    continue
                changes.rows[rec] = frozenset(i for i, (x, y) in enumerate(zip(old, frozen))
                                              if x is not y and x != y)
                touched = True
            if len(before) != len(after) or touched:
                for rec in before:
                    if rec not in after:
                        changes.gone.add(rec)
                        touched = True
            if touched:
                fields.add(name)
        return changes


# ---------------------------------------------------------------- formulas

class Formulas:
    """The document's formulas, computed lazily and kept until a dependency changes."""

    def __init__(self, machine, schema):
        self.machine = machine
        self.schema = schema
        self.members = {m.name: m for m in schema.document.members if m.kind != "field"}
        self.fields = {m.name for m in schema.document.members if m.kind == "field"}
        self.values: dict = {}
        self.evaluations: Counter = Counter()
        self._closures: dict = {}

    def closure(self, names, time: bool = False) -> tuple[frozenset, bool]:
        """The document fields (and whether the clock) behind a set of names
        that may include formulas and bubbles."""
        fields, seen = set(), set()
        stack = list(names)
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            if name in self.fields:
                fields.add(name)
                continue
            m = self.members.get(name)
            if m is not None:
                time |= m.time
                stack.extend(m.doc_reads)
        return frozenset(fields), time

    def deps(self, name: str) -> tuple[frozenset, bool]:
        made = self._closures.get(name)
        if made is None:
            m = self.members[name]
            made = self._closures[name] = self.closure(m.doc_reads, m.time)
        return made

    def stale(self, changes: Changes) -> set[str]:
        """Formulas and bubbles whose value may differ after `changes`; cached
        values of those formulas are dropped."""
        if changes.everything:
            out = set(self.members)
        else:
            out = set()
            fields = changes.fields
            for name in self.members:
                deps, time = self.deps(name)
                if (time and changes.time) or not deps.isdisjoint(fields):
                    out.add(name)
        for name in out:
            self.values.pop(name, None)
        return out

    def get(self, name: str):
        value = self.values.get(name, _MISSING)
        if value is _MISSING:
            m = self.members[name]
            self.evaluations[name] += 1
            try:
                value = self.machine.call(m.index)
            except VMError:
                value = None  # a formula that fails is absent from views
            self.values[name] = value
        return value

    def clear(self) -> None:
        self.values.clear()


__all__ = ["ChangeTracker", "Changes", "Formulas", "Freezers"]
