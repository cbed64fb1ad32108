"""The runtime table: rows of one record type, in insertion (= id) order.

A table is itself a machine Record (layout "$table", see TABLE_FIELDS) so that
machine snapshots carry it like any other value:

    next_id   the id the next inserted row gets (ids start at 1, never reused)
    rows      dict id -> row Record, in increasing id order
    index     dict slot -> dict key -> dict id -> True, for the record's `index` hints
    id_slot   the row layout's `id` slot
    owner_slot the row layout's hidden owner slot (see vm/docslots.py)

A row knows its table through its owner slot, which is how `row.delete()` and
writes to indexed fields find the table. Every change is appended to the undo
log (vm/undo.py) so an aborted transaction leaves the table exactly as before:
the order of rows is restored by re-sorting on id after deletes are undone.
"""
from __future__ import annotations

from ._machine import Record
from .docslots import DETACHED, LOG

TABLE_LAYOUT_NAME = "$table"
TABLE_FIELDS = ["next_id", "rows", "index", "id_slot", "owner_slot"]
TABLE_KINDS = "ioo" + "ii"
TABLE_DEFAULTS = [1, {}, {}, 0, 0]
NEXT, ROWS, INDEX, ID_SLOT, OWNER_SLOT = range(5)


def _log(m, entry) -> None:
    doc = m.doc if m is not None else None
    log = doc.f[LOG] if doc is not None else None
    if log is not None:
        log.append(entry)


def new(spec) -> Record:
    """A fresh empty table. `spec` is [layout, id_slot, owner_slot, [indexed slots]]."""
    layout, id_slot, owner_slot, indexed = spec
    return Record(int(layout), [1, {}, {int(s): {} for s in indexed}, int(id_slot), int(owner_slot)])


def owner_of(row: Record):
    """The table a row is in, or None (detached or deleted). Only rows (records
    of a type that can live in tables) end with the owner slot."""
    owner = row.f[-1]
    return owner if type(owner) is Record else None


def _index_add(t: Record, row: Record) -> None:
    rid = row.f[t.f[ID_SLOT]]
    for slot, buckets in t.f[INDEX].items():
        buckets.setdefault(row.f[slot], {})[rid] = True


def _index_remove(t: Record, row: Record) -> None:
    rid = row.f[t.f[ID_SLOT]]
    for slot, buckets in t.f[INDEX].items():
        bucket = buckets.get(row.f[slot])
        if bucket is not None:
            bucket.pop(rid, None)
            if not bucket:
                del buckets[row.f[slot]]


# ------------------------------------------------------------------ changes

def insert(m, t: Record, row: Record) -> int:
    """Add a detached row; returns its new id."""
    rid = t.f[NEXT]
    _log(m, ["ins", t, row, rid])
    t.f[NEXT] = rid + 1
    row.f[t.f[ID_SLOT]] = rid
    row.f[t.f[OWNER_SLOT]] = t
    t.f[ROWS][rid] = row
    if t.f[INDEX]:
        _index_add(t, row)
    return rid


def delete_row(m, row: Record) -> None:
    t = owner_of(row)
    if t is None:
        return
    _log(m, ["del", t, row])
    del t.f[ROWS][row.f[t.f[ID_SLOT]]]
    if t.f[INDEX]:
        _index_remove(t, row)
    row.f[t.f[OWNER_SLOT]] = None


def delete_rows(m, rows: list) -> None:
    for row in list(rows):
        delete_row(m, row)


def delete_all(m, t: Record) -> None:
    for row in list(t.f[ROWS].values()):
        delete_row(m, row)


def set_indexed(m, row: Record, slot: int, value) -> None:
    """Write a field the row's table indexes, keeping the index right."""
    _log(m, ["iset", row, slot, row.f[slot]])
    restore_field(row, slot, value)


def restore_field(row: Record, slot: int, value) -> None:
    t = owner_of(row)
    if t is not None and slot in t.f[INDEX]:
        _index_remove(t, row)
        row.f[slot] = value
        _index_add(t, row)
    else:
        row.f[slot] = value


def undo(entry):
    """Reverse one table entry of the undo log; returns a table whose row order
    must be restored (after deletes come back), else None."""
    kind = entry[0]
    if kind == "ins":
        _, t, row, rid = entry
        t.f[ROWS].pop(rid, None)
        if t.f[INDEX]:
            _index_remove(t, row)
        t.f[NEXT] = rid
        row.f[t.f[OWNER_SLOT]] = DETACHED
        return None
    if kind == "del":
        _, t, row = entry
        row.f[t.f[OWNER_SLOT]] = t
        t.f[ROWS][row.f[t.f[ID_SLOT]]] = row
        if t.f[INDEX]:
            _index_add(t, row)
        return t
    if kind == "iset":
        _, row, slot, old = entry
        restore_field(row, slot, old)
        return None
    raise ValueError(f"unknown undo entry {kind!r}")


def resort(t: Record) -> None:
    rows = t.f[ROWS]
    items = sorted(rows.items())
    rows.clear()
    rows.update(items)


# ------------------------------------------------------------------ reads

def size(t: Record) -> int:
    return len(t.f[ROWS])


def rows(t: Record) -> list:
    return list(t.f[ROWS].values())


def by_id(t: Record, rid: int) -> list:
    row = t.f[ROWS].get(rid)
    return [row] if row is not None else []


def lookup(t: Record, slot: int, key) -> list:
    """Rows whose indexed field `slot` equals `key`, in id order."""
    buckets = t.f[INDEX].get(slot)
    if buckets is None:  # not indexed: a scan gives the same answer
        return [r for r in t.f[ROWS].values() if r.f[slot] == key]
    bucket = buckets.get(key)
    if not bucket:
        return []
    all_rows = t.f[ROWS]
    return [all_rows[i] for i in sorted(bucket)]


def is_live(row: Record) -> bool:
    """False once the row was deleted (detached records count as live)."""
    return row.f[-1] is not None
