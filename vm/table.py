"""The runtime table: rows of one record type, in insertion (= id) order.

A table is itself a machine Record (layout "$table") so that machine
snapshots carry it like any other value. Its fields (names from the machine,
vm/tables.pxi):

    next_id    the id the next inserted row gets (ids start at 1, never reused)
    rows       dict id -> row Record, in increasing id order
    index      dict slot -> dict key -> dict id -> True, for the record's `index` hints
    id_slot    the row layout's `id` slot
    owner_slot the row layout's hidden owner slot (vm/docslots.py)

A row knows its table through its owner slot, which is how `row.delete()` and
writes to indexed fields find the table. The insert is the machine's
(TINSERT, `Machine.table_insert`): it logs once per table and savepoint, so a
rollback to any savepoint drops exactly the rows inserted after it. Deletes
and writes to indexed fields log callable entries (`Machine.log_undo`). A
delete undone puts its row back at the end of `rows`; the first delete from a
table in a savepoint segment also logs a re-sort, which the rollback replays
after every re-add of that segment, so the rows come back in id order, exactly
as they were (O(n) on nearly sorted rows, and only when rolling back).
"""
from __future__ import annotations

from functools import partial
from itertools import islice

from ._machine import TABLE_FIELDS, Record, table_lookup, table_sort_rows

TABLE_LAYOUT_NAME = "$table"
TABLE_KINDS = "iooii"
TABLE_DEFAULTS = [1, {}, {}, 0, 0]
NEXT, ROWS, INDEX, ID_SLOT, OWNER_SLOT = range(len(TABLE_FIELDS))
assert len(TABLE_KINDS) == len(TABLE_DEFAULTS) == len(TABLE_FIELDS)


def new(spec) -> Record:
    """A fresh empty table. `spec` is [layout, id_slot, owner_slot, [indexed slots]]."""
    layout, id_slot, owner_slot, indexed = spec
    return Record(int(layout), [1, {}, {int(s): {} for s in indexed}, int(id_slot), int(owner_slot)])


def owner_of(row: Record):
    """The table a row is in, or None (detached or deleted). Only rows (records
    of a type that can live in tables) end with the owner slot."""
    owner = row.f[-1]
    return owner if type(owner) is Record else None


# ------------------------------------------------------------------ index upkeep
# Through the machine's logged map writes, which a rollback undoes to the
# exact key order (the index is document state: its bytes must come back too).
# Inserts keep the index in C, unlogged: undoing them removes what they added.

def _unindex(m, t: Record, row: Record, slots) -> None:
    rid = row.f[t.f[ID_SLOT]]
    index = t.f[INDEX]
    for slot in slots:
        buckets = index[slot]
        key = row.f[slot]
        bucket = buckets.get(key)
        if bucket is not None:
            m.map_delete(bucket, rid)
            if not bucket:
                m.map_delete(buckets, key)


def _reindex(m, t: Record, row: Record, slots) -> None:
    rid = row.f[t.f[ID_SLOT]]
    index = t.f[INDEX]
    for slot in slots:
        buckets = index[slot]
        key = row.f[slot]
        bucket = buckets.get(key)
        if bucket is None:
            bucket = {}
            m.map_put(buckets, key, bucket)
        m.map_put(bucket, rid, True)


def _undo_delete(t: Record, row: Record) -> None:
    # Back last in `rows`; the segment's re-sort (logged before it) runs after.
    t.f[ROWS][row.f[t.f[ID_SLOT]]] = row
    row.f[t.f[OWNER_SLOT]] = t


# ------------------------------------------------------------------ changes

def insert(m, t: Record, row: Record) -> int:
    """Add a detached row; returns its new id (the `table.insert` host function
    of modules compiled before TINSERT)."""
    return m.table_insert(t, row)


def delete_row(m, row: Record) -> None:
    t = owner_of(row)
    if t is None:
        return
    if m.log_once(t):
        m.log_undo((partial(table_sort_rows, t),))  # replayed after this segment's re-adds
    m.log_undo((partial(_undo_delete, t, row),))
    del t.f[ROWS][row.f[t.f[ID_SLOT]]]
    row.f[t.f[OWNER_SLOT]] = None
    if t.f[INDEX]:
        _unindex(m, t, row, list(t.f[INDEX]))


def delete_rows(m, rows: list) -> None:
    for row in list(rows):
        delete_row(m, row)


def delete_all(m, t: Record) -> None:
    for row in list(t.f[ROWS].values()):
        delete_row(m, row)


def set_indexed(m, row: Record, slot: int, value) -> None:
    """Write a field the row's table indexes, keeping the index right."""
    t = owner_of(row)
    if t is None or slot not in t.f[INDEX]:
        m.write_field(row, slot, value)
        return
    _unindex(m, t, row, (slot,))
    m.write_field(row, slot, value)
    _reindex(m, t, row, (slot,))


def touched(entry):
    """(table, row or None) for an undo entry this module logged (a delete,
    or the re-sort that goes with the first delete of a segment), else None;
    so that views/reactive.py learns what a transaction deleted without looking
    inside a `functools.partial` itself."""
    fn = entry[0] if type(entry) is tuple and entry else None
    if type(fn) is not partial:
        return None
    if fn.func is _undo_delete:
        return fn.args[0], fn.args[1]
    if fn.func is table_sort_rows:
        return fn.args[0], None
    return None


# ------------------------------------------------------------------ reads

def size(t: Record) -> int:
    return len(t.f[ROWS])


def rows(t: Record) -> list:
    return list(t.f[ROWS].values())


def newest(t: Record, n: int) -> list:
    """The last `n` rows in reverse id order (all of them when n < 0): what
    `iterate t order by id desc limit n` gives, without a sort and, with a
    limit, without touching the older rows."""
    values = reversed(t.f[ROWS].values())
    if n < 0:
        return list(values)
    return list(islice(values, n)) if n > 0 else []


def by_id(t: Record, rid: int) -> list:
    row = t.f[ROWS].get(rid)
    return [row] if row is not None else []


# Rows whose indexed field `slot` equals `key`, in id order: through the
# index, or a scan when `slot` is not indexed (vm/tables.pxi, in C).
lookup = table_lookup


def is_live(row: Record) -> bool:
    """False once the row was deleted (detached records count as live)."""
    return row.f[-1] is not None
