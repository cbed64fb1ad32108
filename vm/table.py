"""The runtime table: rows of one record type, in insertion (= id) order.

A table is itself a machine Record (layout "$table", see TABLE_FIELDS) so that
machine snapshots carry it like any other value:

    next_id    the id the next inserted row gets (ids start at 1, never reused)
    rows       dict id -> row Record, in increasing id order (see `dirty`)
    index      dict slot -> dict key -> dict id -> True, for the record's `index` hints
    id_slot    the row layout's `id` slot
    owner_slot the row layout's hidden owner slot (vm/docslots.py)
    epoch      the logging epoch of this table's last logged insert
    dirty      True when an undone delete put a row back out of id order

A row knows its table through its owner slot, which is how `row.delete()` and
writes to indexed fields find the table. Every change is undo-logged in the
machine (`Machine.log_undo` with a callable entry) so an aborted transaction
leaves the table as it was. Inserts log once per epoch (docslots.EPOCH): ids
only grow, so the rows inserted since are exactly those from the first id the
epoch handed out. A delete undone puts its row back at the end of `rows` and
marks the table dirty; the next read restores id order.
"""
from __future__ import annotations

from functools import partial

from ._machine import Record
from .docslots import DETACHED, EPOCH

TABLE_LAYOUT_NAME = "$table"
TABLE_FIELDS = ["next_id", "rows", "index", "id_slot", "owner_slot", "epoch", "dirty"]
TABLE_KINDS = "iooiilb"
TABLE_DEFAULTS = [1, {}, {}, 0, 0, -1, False]
NEXT, ROWS, INDEX, ID_SLOT, OWNER_SLOT, TAG, DIRTY = range(7)


def new(spec) -> Record:
    """A fresh empty table. `spec` is [layout, id_slot, owner_slot, [indexed slots]]."""
    layout, id_slot, owner_slot, indexed = spec
    return Record(int(layout), [1, {}, {int(s): {} for s in indexed}, int(id_slot), int(owner_slot), -1,
                                False])


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


def _ordered(t: Record) -> dict:
    """The rows dict in id order (after an undone delete put one back late)."""
    rows = t.f[ROWS]
    if t.f[DIRTY]:
        items = sorted(rows.items())
        rows.clear()
        rows.update(items)
        t.f[DIRTY] = False
    return rows


# ------------------------------------------------------------------ undo entries

def _undo_inserts(t: Record, first: int) -> None:
    rows = t.f[ROWS]
    for rid in [k for k in rows if k >= first]:
        row = rows.pop(rid)
        if t.f[INDEX]:
            _index_remove(t, row)
        row.f[t.f[OWNER_SLOT]] = DETACHED
    t.f[NEXT] = first


def _undo_delete(t: Record, row: Record) -> None:
    rows = t.f[ROWS]
    rid = row.f[t.f[ID_SLOT]]
    if rows and rid < next(reversed(rows)):
        t.f[DIRTY] = True
    rows[rid] = row
    row.f[t.f[OWNER_SLOT]] = t
    if t.f[INDEX]:
        _index_add(t, row)


# ------------------------------------------------------------------ changes

def insert(m, t: Record, row: Record) -> int:
    """Add a detached row; returns its new id."""
    tf = t.f
    rid = tf[NEXT]
    if m.in_transaction:
        epoch = m.doc.f[EPOCH] if m.doc is not None else 0
        # Epoch 0 means nobody keeps epochs: log every insert to stay exact.
        if epoch == 0 or tf[TAG] != epoch:
            tf[TAG] = epoch
            m.log_undo((partial(_undo_inserts, t, rid),))
    tf[NEXT] = rid + 1
    rf = row.f
    rf[tf[ID_SLOT]] = rid
    rf[tf[OWNER_SLOT]] = t
    tf[ROWS][rid] = row
    if tf[INDEX]:
        _index_add(t, row)
    return rid


def delete_row(m, row: Record) -> None:
    t = owner_of(row)
    if t is None:
        return
    m.log_undo((partial(_undo_delete, t, row),))
    del t.f[ROWS][row.f[t.f[ID_SLOT]]]
    if t.f[INDEX]:
        _index_remove(t, row)
    row.f[t.f[OWNER_SLOT]] = None


def delete_rows(m, rows: list) -> None:
    for row in list(rows):
        delete_row(m, row)


def delete_all(m, t: Record) -> None:
    for row in list(_ordered(t).values()):
        delete_row(m, row)


def set_indexed(m, row: Record, slot: int, value) -> None:
    """Write a field the row's table indexes, keeping the index right."""
    m.log_undo((partial(restore_field, row, slot, row.f[slot]),))
    restore_field(row, slot, value)


def restore_field(row: Record, slot: int, value) -> None:
    t = owner_of(row)
    if t is not None and slot in t.f[INDEX]:
        _index_remove(t, row)
        row.f[slot] = value
        _index_add(t, row)
    else:
        row.f[slot] = value


# ------------------------------------------------------------------ reads

def size(t: Record) -> int:
    return len(t.f[ROWS])


def rows(t: Record) -> list:
    return list(_ordered(t).values())


def by_id(t: Record, rid: int) -> list:
    row = t.f[ROWS].get(rid)
    return [row] if row is not None else []


def lookup(t: Record, slot: int, key) -> list:
    """Rows whose indexed field `slot` equals `key`, in id order."""
    buckets = t.f[INDEX].get(slot)
    if buckets is None:  # not indexed: a scan gives the same answer
        return [r for r in _ordered(t).values() if r.f[slot] == key]
    bucket = buckets.get(key)
    if not bucket:
        return []
    all_rows = t.f[ROWS]
    return [all_rows[i] for i in sorted(bucket)]


def is_live(row: Record) -> bool:
    """False once the row was deleted (detached records count as live)."""
    return row.f[-1] is not None
