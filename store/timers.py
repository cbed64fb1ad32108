"""The timer index: when each sleeping document next needs to wake.

A document's snapshot holds its own timers (delayed transitions, cron); the
host only needs the earliest of them per document, so the index keeps one
wake time per document. "D" keys sort by due time, so the host finds every
due document with one cursor scan from the start; "W" keys map a document to
its current "D" key so rescheduling removes the old entry.
"""
from __future__ import annotations

from . import keys, records

DB = "timers"


def get(txn, db, doc: str) -> int | None:
    """The document's wake time, or None."""
    key = keys.timer_of_key(doc)
    raw = txn.get(key, db=db)
    if raw is None:
        return None
    rec = records.unpack(records.KIND_TIMER, raw, doc=doc, db=DB, key=key)
    return records.field(rec, "due", int, doc=doc, db=DB, key=key)


def put(txn, db, doc: str, due: int, old: int | None) -> None:
    """Set the wake time; `old` is what get() returned (read before any write)."""
    if old is not None:
        txn.delete(keys.timer_due_key(old, doc), db=db)
    txn.put(keys.timer_due_key(due, doc), b"", db=db)
    txn.put(keys.timer_of_key(doc), records.pack(records.KIND_TIMER, {"due": due}), db=db)


def clear(txn, db, doc: str, old: int | None) -> None:
    if old is None:
        return
    txn.delete(keys.timer_due_key(old, doc), db=db)
    txn.delete(keys.timer_of_key(doc), db=db)


def due(txn, db, now: int, limit: int | None = None) -> list[tuple[int, str]]:
    """(due, doc) for every document whose wake time is <= now, earliest first."""
    out: list[tuple[int, str]] = []
    cursor = txn.cursor(db)
    if not cursor.set_range(keys.TIMER_DUE):
        return out
    for key in cursor.iternext(keys=True, values=False):
        if key[:1] != keys.TIMER_DUE:
            break
        when, doc = keys.split_timer_due_key(key)
        if when > now:
            break
        out.append((when, doc))
        if limit is not None and len(out) >= limit:
            break
    return out


def next_due(txn, db) -> tuple[int, str] | None:
    """The earliest (due, doc) in the index, or None."""
    cursor = txn.cursor(db)
    if cursor.set_range(keys.TIMER_DUE):
        key = cursor.key()
        if key[:1] == keys.TIMER_DUE:
            return keys.split_timer_due_key(key)
    return None
