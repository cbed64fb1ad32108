"""The reference change tracker (imported as `frozen_kit`): what changed in a
transaction, found by comparing frozen copies of the whole document, O(document)
per observation. views/reactive.py's ChangeTracker reads the undo logs instead
(O(writes)); tests/views/test_tracker.py and tests/views/test_properties.py check
the two against each other. It is a test oracle, so it lives with the tests.
"""
from __future__ import annotations

import json

from advm.views.reactive import Changes, _is_immutable
from advm.vm._machine import Record
from advm.vm.docslots import NOW
from advm.vm.table import ROWS


class Freezers:
    """Per type, a function from a machine value to an immutable value that is
    equal exactly when the view-relevant content is (None: the value already is
    immutable). Record types may nest, so struct freezers are looked up late."""

    def __init__(self, meta: dict):
        self.meta = meta
        self.structs: dict[tuple, object] = {}
        self.rows: dict | None = None  # filled by table freezers while a FrozenTracker takes a copy

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
        if head == "table":
            return self.table(desc[1])
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
        key = ("row", record)
        made = self.structs.get(key)
        if made is not None:
            return made
        deep = []

        def freeze(rec):
            f = list(rec.f)
            for slot, fz in deep:
                f[slot] = fz(f[slot])
            return tuple(f)

        self.structs[key] = freeze
        fields = self.meta["records"][record]["fields"]
        deep.extend((fd["slot"], fz) for fd in fields if (fz := self.of(fd["type"])) is not None)
        return freeze

    def table(self, record: str):
        """A table's frozen form: its rows' frozen forms in order. Every row
        frozen is also noted in `rows` (row -> (its table, frozen form)) when
        that is a dict, wherever the table nests."""
        row = self.row(record)

        def freeze(t):
            if type(t) is not Record:
                return t
            out = []
            for rec in t.f[ROWS].values():
                frozen = row(rec)
                if self.rows is not None:
                    self.rows[rec] = (t, frozen)
                out.append(frozen)
            return tuple(out)

        return freeze


class FrozenTracker:
    """The reference: compares a frozen copy of the whole document taken at
    the previous observation (O(document) per observation). Rows of every
    table, wherever it nests, are compared slot by slot."""

    def __init__(self, machine, meta: dict):
        self.machine = machine
        self.freezers = freezers = Freezers(meta)
        self.scalars = []  # (name, slot)
        self.deep = []  # (name, slot, freeze); tables too
        for f in meta["document"]["fields"]:
            fz = freezers.of(f["type"])
            if fz is None:
                self.scalars.append((f["name"], f["slot"]))
            else:
                self.deep.append((f["name"], f["slot"], fz))
        self.last: tuple | None = None

    def reset(self) -> None:
        """Forget the previous observation: the next one reports everything."""
        self.last = None

    def _take(self) -> tuple[dict, dict]:
        """The frozen fields, and every row of every table: row -> (its table,
        its frozen slots)."""
        f = self.machine.doc.f
        state = {"$now": f[NOW]}
        for name, slot in self.scalars:
            state[name] = f[slot]
        rows = self.freezers.rows = {}
        try:
            for name, slot, fz in self.deep:
                state[name] = fz(f[slot])
        finally:
            self.freezers.rows = None
        return state, rows

    def observe(self) -> Changes:
        now, after = self._take()
        last = self.last
        self.last = (now, after)
        if last is None:
            return Changes(fields=[n for n in now if n != "$now"], time=True, everything=True)
        last, before = last
        changes = Changes(time=last["$now"] != now["$now"])
        fields = changes.fields
        for name, _ in self.scalars:
            a, b = last[name], now[name]
            if a is not b and (a != b or type(a) is not type(b)):
                fields.add(name)
        for name, _, _ in self.deep:
            if last[name] != now[name]:
                fields.add(name)
        for rec, (table, frozen) in after.items():
            old = before.get(rec)
            if old is None or old[0] is not table or old[1] == frozen:
                continue  # new (nothing about it is cached anywhere), or the same
            changes.rows[rec] = frozenset(i for i, (x, y) in enumerate(zip(old[1], frozen))
                                          if x is not y and x != y)
        for rec, (table, _) in before.items():
            if rec.f[-1] is not table:
                changes.gone.add(rec)  # it left its table
        return changes


__all__ = ["Freezers", "FrozenTracker"]
