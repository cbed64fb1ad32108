"""What changed in a transaction, and formulas that recompute only then.

`ChangeTracker.observe()` tells, after each committed transaction, which
document fields changed, which table rows changed (and in which slots), which
rows left their tables, and whether the clock moved. It reads what the
transactions committed since the last observation wrote (`Machine.written_since`,
spec/bytecode.md), so its cost is O(writes), not O(document):

- a document field counts as changed when its slot holds another value than
  at the last observation (a shallow copy of the root's slots is kept: that
  also catches top-level writes that bypass the undo log, like the clock);
- a table row changed in the slots the log names whose value differs from the
  oldest logged one (slots of container type: whenever written); this holds
  for the rows of every table, the document's and those of tables held by
  records at any depth (in fields, maps, lists or other tables' rows): views
  cache by row wherever the row is;
- rows inserted and deleted come from the inserts' and deletes' own entries;
- a write into a list, map or record inside a document field, or inside a
  row's container-typed slot, is traced back to that field or row slot through
  a map from container to owners, built once and extended with every value
  written. A row of a nested table is an owner's content like any other, but
  its own slots answer to (row, slot): a row that changed is reported, and so
  is what holds it (a document field, or the slot of an outer row, in turn).
  The map may keep owners a container no longer has: that only reports a
  change too many, never one too few.

When it cannot know (no earlier observation, more commits than the machine
kept logs for, a table replaced, an undo entry of a host function it does not
know), it reports everything, as on the first observation. What it cannot see
at all are in-place writes below the top level made outside any transaction:
the runtime makes none (document state changes only in transactions, except
the root's clock and bookkeeping slots), and a host that does must call
`reset()`. The tests check it against a reference that compares frozen
copies of the whole document (tests/views/frozen_kit.py).

`Formulas` holds the document's formulas lazily: a value is computed on first
read and kept until something in its dependency closure (the compiler's read
sets, through other formulas, plus the clock for formulas that read `Time`)
changes. `evaluations` counts machine calls per formula, for tests.
"""
from __future__ import annotations

from collections import Counter
from functools import partial

from ..runtime.asks import AskBook
from ..vm._machine import Record
from ..vm.docslots import NOW
from ..vm.errors import VMError
from ..vm.table import ID_SLOT, NEXT, ROWS, TABLE_LAYOUT_NAME, touched

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


# ---------------------------------------------------------------- value kinds

def _is_immutable(desc) -> bool:
    return isinstance(desc, str) and desc != "dynamic" or (not isinstance(desc, str) and desc[0] == "enum")


def _is_flat(desc) -> bool:
    """Values of this type hold no container (maybe<int> is None or an int)."""
    while not isinstance(desc, str) and desc[0] == "maybe":
        desc = desc[1]
    return _is_immutable(desc)


SCALAR, DEEP, TABLE = 0, 1, 2
_CONTAINERS = (list, dict, Record)


def _differs(a, b) -> bool:
    return a is not b and (a != b or type(a) is not type(b))


class ChangeTracker:
    """What changed, from the undo logs of the transactions committed since
    the last observation (module docstring)."""

    KEEP = 16  # committed logs the machine keeps for us (several commits may come between two observations)

    def __init__(self, machine, meta: dict):
        self.machine = machine
        self.fields = []  # (name, slot, SCALAR | DEEP | TABLE)
        self.deep = []  # (name, slot)
        self.tables = []  # (name, slot)
        for f in meta["document"]["fields"]:
            desc = f["type"]
            if not isinstance(desc, str) and desc[0] == "table":
                kind = TABLE
                self.tables.append((f["name"], f["slot"]))
            elif _is_flat(desc):
                kind = SCALAR
            else:
                kind = DEEP
                self.deep.append((f["name"], f["slot"]))
            self.fields.append((f["name"], f["slot"], kind))
        # per record layout: its slots whose values hold no containers, and the others
        self.row_slots = {}
        for info in meta["records"].values():
            fields = info["fields"]
            self.row_slots[info["layout"]] = (frozenset(fd["slot"] for fd in fields if _is_flat(fd["type"])),
                                              tuple(fd["slot"] for fd in fields if not _is_flat(fd["type"])))
        if machine.keep_written < self.KEEP:
            machine.keep_written = self.KEEP
        self.commits = None  # machine.commits at the last observation; None: report everything next
        self.now = None
        self.top = None  # the root's slots at the last observation
        self.table_layout = _table_layout(machine, meta)
        self.owners: dict = {}  # id(container) -> (container, {field name | (row, slot)})
        self.owners_base = 0
        self.rebuilds = 0  # times the owners map was rebuilt (it then knows exactly which rows are held)
        self.doc_tables: dict = {}  # id(table) -> (field name, table)

    def reset(self) -> None:
        """Forget the previous observation: the next one reports everything."""
        self.commits = None

    def lose(self) -> None:
        """Nobody needs the changes until further notice: stop following (and
        let go of the document values kept for it); the next observation
        reports everything."""
        if self.commits is None and self.top is None:
            return
        self.commits = None
        self.top = None
        self.owners = {}
        self.doc_tables = {}

    # ------------------------------------------------------------ observing

    def observe(self) -> Changes:
        m = self.machine
        if self.commits is None:
            return self._restart()
        n = m.commits - self.commits
        entries = None
        if n:
            entries = m.written_since(self.commits, True)
            if entries is None:
                return self._restart()
        self.commits = m.commits
        f = m.doc.f
        now = f[NOW]
        changes = Changes(time=self.now != now)
        self.now = now
        top = self.top
        self.top = f[:]
        fields = changes.fields
        for name, slot, kind in self.fields:
            a = top[slot]
            b = f[slot]
            if a is b:
                continue
            if kind == SCALAR:
                if a != b or type(a) is not type(b):
                    fields.add(name)
            elif kind == DEEP:
                fields.add(name)
                self._walk(b, name)
            else:
                return self._restart()  # a table replaced: its rows are another set
        if entries and not self._apply(entries, changes):
            return self._restart()
        if len(self.owners) > 2 * self.owners_base + 256:
            self._rebuild_owners()  # drop owners containers no longer have
        return changes

    def _restart(self) -> Changes:
        m = self.machine
        f = m.doc.f
        self.commits = m.commits
        self.now = f[NOW]
        self.top = f[:]
        self._rebuild_owners()
        return Changes(fields=[name for name, _, _ in self.fields], time=True, everything=True)

    def holds(self, row) -> bool:
        """Whether a table of the document holds `row`: exact right after the
        owners map was rebuilt (`rebuilds` counts those); between rebuilds it
        may still say so of a row whose nested table went with the record,
        map entry or row that held it (no delete tells that)."""
        table = row.f[-1]
        if type(table) is not Record:
            return False
        known = self.doc_tables.get(id(table))
        if known is not None and known[1] is table:
            return True
        known = self.owners.get(id(row))
        return known is not None and known[0] is row

    def _rebuild_owners(self) -> None:
        self.rebuilds += 1
        f = self.machine.doc.f
        self.doc_tables = {id(t): (name, t) for name, slot in self.tables if type(t := f[slot]) is Record}
        self.owners = {}
        for name, slot in self.deep:
            self._walk(f[slot], name)
        for _, t in self.doc_tables.values():
            rows = t.f[ROWS]
            if not rows:
                continue
            deep = self.row_slots.get(next(iter(rows.values())).layout, ((), ()))[1]
            if deep:
                for row in rows.values():
                    for slot in deep:
                        self._walk(row.f[slot], (row, slot))
        self.owners_base = len(self.owners)

    def _walk(self, value, owner) -> None:
        """Note `owner` for every container in `value` (document tables excepted:
        a row's last slot is its table). A row of a table nested in `value`
        is noted too, but what its slots hold answers to (row, slot): a change
        inside it is a change of that row (reported in `Changes.rows`, so that
        whatever is cached for the row is dropped), and through the row, of
        `owner`. Of a table only its rows are walked (its index is not shown)."""
        if type(value) not in _CONTAINERS:
            return
        owners = self.owners
        doc_tables = self.doc_tables
        tl = self.table_layout
        row_slots = self.row_slots
        stack = [(value, owner)]
        while stack:
            v, o = stack.pop()
            t = type(v)
            if t is Record and id(v) in doc_tables:
                continue
            known = owners.get(id(v))
            if known is None or known[0] is not v:
                owners[id(v)] = (v, {o})
                fresh = True
            elif o in known[1]:
                continue  # its contents were noted for this owner when it was
            else:
                known[1].add(o)
                fresh = False
            if t is Record:
                f = v.f
                if v.layout == tl:
                    items = f[ROWS].values()
                elif f and type(f[-1]) is Record and f[-1].layout == tl:
                    # a row: its slots answer to (row, slot) whoever holds the table
                    if fresh:
                        for slot in row_slots.get(v.layout, ((), ()))[1]:
                            x = f[slot]
                            if type(x) in _CONTAINERS:
                                stack.append((x, (v, slot)))
                    continue
                else:
                    items = f
            elif t is dict:
                items = v.values()
            else:
                items = v
            stack.extend((x, o) for x in items if type(x) in _CONTAINERS)

    def _apply(self, entries: list, changes: Changes) -> bool:
        """Fold the log entries into `changes`; False when they say something
        this tracker cannot follow.

        Rows of every table are followed alike, wherever the table nests: a
        row changed in the slots whose oldest logged value differs (container
        slots: when written, or when something inside was). A changed row
        changes what holds it: its table's document field, or, for a nested
        table, the owners of the row (a document field, or a slot of an outer
        row, which changes in turn)."""
        doc = self.machine.doc
        f = doc.f
        tables = self.doc_tables
        if len(tables) != len(self.tables) or any(id(f[slot]) not in tables for _, slot in self.tables):
            tables = self.doc_tables = {id(t): (name, t) for name, slot in self.tables
                                        if type(t := f[slot]) is Record}
        tl = self.table_layout
        owners = self.owners
        first: dict = {}  # id(table) -> (table, the first id inserted since the last observation)
        row_old: dict = {}  # row -> {slot: its oldest logged value}
        deleted = []  # (table, row)
        hits = []  # (owners, kind, container, key): writes inside owned containers
        appended: dict = {}  # id(list) -> appends
        for kind, target, key, old in entries:
            if kind == "entry":
                e = target
                what = touched(e)
                if what is not None:
                    table, row = what
                    if row is not None:
                        deleted.append((table, row))
                    if id(table) in tables:
                        continue
                    target, kind, key = table, "delete", None  # a nested table: changes its owners
                elif type(e[0]) is Record and len(e) == 3:
                    kind, target, key, old = "field", e[0], e[1], e[2]
                elif type(e[0]) is list or type(e[0]) is dict:
                    kind, target, key = "set", e[0], (e[1] if len(e) > 1 and type(e[1]) is not list else None)
                elif type(e[0]) is partial and isinstance(getattr(e[0].func, "__self__", None), AskBook):
                    continue  # asks are not document state views show
                else:
                    return False  # a host's own undo: what it restores is unknown
            if kind == "field":
                if target is doc:
                    continue  # the root's slots are compared as a whole
                tf = target.f
                if tf and type(tf[-1]) is Record and tf[-1].layout == tl:
                    per = row_old.get(target)
                    if per is None:
                        per = row_old[target] = {}
                    if key not in per:
                        per[key] = old
                    continue  # a row: whether it changed is worked out below
            elif kind == "insert":
                tid = id(target)
                known = first.get(tid)
                if known is None or key < known[1]:
                    first[tid] = (target, key)
                if tid in tables:
                    continue
            elif kind == "append":
                appended[id(target)] = appended.get(id(target), 0) + 1
            if owners:
                known = owners.get(id(target))
                if known is not None and known[0] is target:
                    hits.append((known[1], kind, target, key))
        marks = []  # owners whose value changed: field names and (row, slot)
        touched_tables = set()
        back = set()  # rows deleted and inserted again (under a new id)
        row_slots = self.row_slots
        for tid, (table, fr) in first.items():
            if tid not in tables:
                continue  # a nested table: its owners walk the new rows (_walk_written)
            rows = table.f[ROWS]
            new = [row for rid in range(fr, table.f[NEXT]) if (row := rows.get(rid)) is not None]
            if new:
                touched_tables.add(tid)
                deep = row_slots.get(new[0].layout, ((), ()))[1]
                for row in new if deep else ():
                    for slot in deep:
                        self._walk(row.f[slot], (row, slot))
        for table, row in deleted:
            tid = id(table)
            rid = row.f[table.f[ID_SLOT]]
            fr = first.get(tid)
            if fr is not None and rid >= fr[1]:
                continue  # inserted since the last observation: nobody saw it
            if row.f[-1] is table:
                row_old.setdefault(row, {}).setdefault(table.f[ID_SLOT], rid)
                back.add(row)
            else:
                changes.gone.add(row)
            if tid in tables:
                touched_tables.add(tid)
        for row, per in row_old.items():
            table = row.f[-1]
            if type(table) is not Record or table.layout != tl:
                continue  # deleted since: its table reports it
            fr = first.get(id(table))
            if fr is not None and row.f[table.f[ID_SLOT]] >= fr[1] and row not in back:
                continue  # new: nothing about it is cached anywhere
            flat = row_slots.get(row.layout, ((), ()))[0]
            rf = row.f
            for slot, old in per.items():
                if slot not in flat:
                    marks.append((row, slot))
                    self._walk(rf[slot], (row, slot))
                elif _differs(old, rf[slot]):
                    marks.append((row, slot))
        walked = set()
        for owned, kind, target, key in hits:
            again = (id(target), kind, key) in walked
            walked.add((id(target), kind, key))
            for owner in list(owned):
                marks.append(owner)
                if not again:
                    self._walk_written(kind, target, key, owner, appended)
        self._mark(marks, changes, first, back, touched_tables)
        fields = changes.fields
        for tid in touched_tables:
            fields.add(tables[tid][0])
        return True

    def _mark(self, marks: list, changes: Changes, first: dict, back: set, touched_tables: set) -> None:
        """Report the owners in `marks` as changed, and what holds them: a
        field name is a changed field; (row, slot) a changed slot of a row
        (not one inserted since the last observation), which changes its
        table's field (collected in `touched_tables`) or, in a nested table,
        the row's own owners."""
        fields = changes.fields
        rows_changed = changes.rows
        tables = self.doc_tables
        owners = self.owners
        tl = self.table_layout
        while marks:
            owner = marks.pop()
            if type(owner) is str:
                fields.add(owner)
                continue
            row, slot = owner
            table = row.f[-1]
            if type(table) is not Record or table.layout != tl:
                continue  # no longer in a table: its table reports the delete
            fr = first.get(id(table))
            if fr is not None and row.f[table.f[ID_SLOT]] >= fr[1] and row not in back:
                continue  # new: nothing about it is cached anywhere
            had = rows_changed.get(row)
            if had is not None:
                if slot not in had:
                    rows_changed[row] = had | {slot}
                continue  # what holds the row was marked with its first slot
            rows_changed[row] = frozenset((slot,))
            if id(table) in tables:
                touched_tables.add(id(table))
            else:
                known = owners.get(id(row))
                if known is not None and known[0] is row:
                    marks.extend(known[1])

    def _walk_written(self, kind, target, key, owner, appended) -> None:
        """Note `owner` for what a write put into `target`."""
        if kind == "field":
            if 0 <= key < len(target.f):
                self._walk(target.f[key], owner)
        elif kind == "append":
            k = appended.get(id(target), 0)
            for x in target[len(target) - k:] if k else ():
                self._walk(x, owner)
        elif kind == "set" and type(target) is list:
            if type(key) is int and -len(target) <= key < len(target):
                self._walk(target[key], owner)
            elif key is None:
                self._walk(target, owner)
        elif kind in ("put", "add", "set") and type(target) is dict:
            if key is None:
                self._walk(target, owner)
            else:
                self._walk(target.get(key), owner)
        elif kind == "insert":
            # the rows inserted into a nested table (the table itself is known)
            rows = target.f[ROWS]
            for rid in range(key, target.f[NEXT]):
                row = rows.get(rid)
                if row is not None:
                    self._walk(row, owner)


def _table_layout(machine, meta: dict) -> int:
    """The layout number of tables (vm/table.py), -1 when the module has none."""
    known = meta.get("table_layout")
    if known is not None:
        return known
    for i, layout in enumerate(machine.module.records):
        if layout.name == TABLE_LAYOUT_NAME:
            return i
    return -1


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


__all__ = ["ChangeTracker", "Changes", "Formulas"]
