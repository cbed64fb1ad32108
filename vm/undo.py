"""The undo log for document state the machine itself does not log.

The machine undo-logs writes to the document root's slots (FSET*). Everything
else that is document state -- fields of rows and of records held in fields,
table inserts and deletes, map entries -- is changed by host functions, which
append an entry here. The log lives in the document's hidden slot LOG (a list
while a transaction is open, None otherwise, so code run outside a transaction
logs nothing); maps touched in the transaction are remembered in slot TOUCHED
so each is copied once.

Entries are plain lists of machine values, so a machine snapshot can carry
them. `rollback(doc)` replays them newest first; locations are disjoint from
the machine's own FSET log, so the two logs can be replayed in either order.
"""
from __future__ import annotations

from .docslots import LOG, TOUCHED


def active(doc) -> list | None:
    return doc.f[LOG] if doc is not None else None


def record_set(doc, record, slot: int, value) -> None:
    """`record.f[slot] = value`, logged."""
    log = doc.f[LOG] if doc is not None else None
    if log is not None:
        log.append(["set", record, slot, record.f[slot]])
    record.f[slot] = value


def touch_map(doc, m: dict) -> None:
    """Call before changing map `m`: the first change in a transaction saves its items."""
    if doc is None:
        return
    log = doc.f[LOG]
    if log is None:
        return
    touched = doc.f[TOUCHED]
    key = id(m)
    if key not in touched:
        touched[key] = True
        log.append(["map", m, [[k, v] for k, v in m.items()]])


def begin(doc) -> None:
    doc.f[LOG] = []
    doc.f[TOUCHED] = {}


def end(doc) -> None:
    doc.f[LOG] = None
    doc.f[TOUCHED] = None


def rollback(doc) -> None:
    """Undo every logged change of the open transaction, newest first."""
    from . import table

    log = doc.f[LOG] or []
    dirty = {}
    for entry in reversed(log):
        kind = entry[0]
        if kind == "set":
            _, record, slot, old = entry
            record.f[slot] = old
        elif kind == "map":
            _, m, items = entry
            m.clear()
            for k, v in items:
                m[k] = v
        else:
            touched = table.undo(entry)
            if touched is not None:
                dirty[id(touched)] = touched
    for t in dirty.values():
        table.resort(t)
    end(doc)
