# Tables inside the machine: the insert (TINSERT), its undo, and the upkeep of
# `index` hints. A table is a Record of the "$table" layout (vm/table.py keeps
# the reads and deletes in Python; the layout's field names come from here).
#
# Inserts are logged once per table per savepoint segment: ids only grow, so
# the rows inserted since the segment began are exactly those whose id is at
# least the id the first of them got. The entry is (table, first id); undoing
# it pops those rows off the end of the rows dict (rows are kept in id order)
# and puts next_id back. "Once per segment" uses the table record's own
# logged bits under the machine's undo epoch (txn.pxi), which begin(),
# savepoint() and rollback_to() bump, so a rollback to any savepoint finds
# every row inserted after it without the document keeping an epoch.

cdef enum:
    T_NEXT = 0        # the id the next inserted row gets (from 1, never reused)
    T_ROWS = 1        # dict id -> row Record, in id order
    T_INDEX = 2       # dict slot -> dict key -> dict id -> True, for `index` hints
    T_ID_SLOT = 3     # the row layout's `id` slot
    T_OWNER_SLOT = 4  # the row layout's hidden owner slot (vm/docslots.py)
    T_NFIELDS = 5

TABLE_FIELDS = ("next_id", "rows", "index", "id_slot", "owner_slot")


cdef Record _table(object v):
    # Everything the C code below relies on, so a table damaged by a host
    # function is an error, never a crash.
    cdef list tf
    if type(v) is Record and (<Record>v).f is not None and len((<Record>v).f) == T_NFIELDS:
        tf = (<Record>v).f
        if (type(tf[T_NEXT]) is int and type(tf[T_ROWS]) is dict and type(tf[T_INDEX]) is dict
                and type(tf[T_ID_SLOT]) is int and type(tf[T_OWNER_SLOT]) is int):
            return <Record>v
    raise _Fault(f"expected a table, found {_kind(v)}")


cdef int64_t _tinsert(list log, object table, object row) except? -1:
    """Add a detached row to a table; returns its new id. `log` is the open
    transaction's undo log, or None."""
    cdef Record t = _table(table)
    cdef Record r = _record(row)
    cdef list tf = t.f
    cdef list rf = r.f
    if rf is None:
        raise _Fault("the record is not a row of this table")
    cdef Py_ssize_t id_slot = tf[T_ID_SLOT]
    cdef Py_ssize_t owner_slot = tf[T_OWNER_SLOT]
    if id_slot < 0 or owner_slot < 0 or id_slot >= len(rf) or owner_slot >= len(rf):
        raise _Fault("the record is not a row of this table")
    if type(rf[owner_slot]) is Record:
        raise _Fault("the row is already in a table")
    rid = tf[T_NEXT]
    cdef int64_t n = rid
    if log is not None and _first_in_segment(t):
        log.append(t)
        log.append(rid)
        log.append(U_TINS)
    tf[T_NEXT] = n + 1
    rf[id_slot] = rid
    rf[owner_slot] = t
    (<dict>tf[T_ROWS])[rid] = r
    if <dict>tf[T_INDEX]:
        _index_add(t, r)
    return n


cdef int _tuninsert(Record t, object first) except -1:
    """Undo the inserts from id `first` on: every later entry is already
    undone, so exactly the rows with ids first .. next_id-1 are in the table,
    at the end of the rows dict unless a delete undone meanwhile put an older
    row after them (vm/table.py re-sorts once the segment is undone)."""
    cdef list tf = t.f
    cdef dict rows = tf[T_ROWS]
    cdef int64_t lo = first
    cdef int64_t want = <int64_t>tf[T_NEXT] - lo
    cdef int64_t gone = 0
    while rows and gone < want:
        # popitem, not pop(next(reversed(rows))): a pop leaves a hole at the
        # end that every later reversed() walks over (quadratic); popitem
        # trims the holes.
        rid, row = rows.popitem()
        if type(rid) is not int or rid < lo:
            rows[rid] = row  # it was last and is last again
            break
        _detach(t, row)
        gone += 1
    if gone < want:  # not in id order after all: find the rest
        for rid in [k for k in rows if type(k) is int and k >= lo]:
            _detach(t, rows.pop(rid))
    tf[T_NEXT] = first
    return 0


cdef int _detach(Record t, object row) except -1:
    row = _record(row)
    if t.f[T_INDEX]:
        _index_remove(t, row)
    row.f[t.f[T_OWNER_SLOT]] = 0  # docslots.DETACHED
    return 0


cdef int _sort_rows(Record t) except -1:
    cdef dict rows = t.f[T_ROWS]
    items = sorted(rows.items())  # nearly sorted: timsort's runs make this O(n)
    rows.clear()
    rows.update(items)
    return 0


# Index upkeep for inserts and their undo (vm/table.py keeps the index for
# deletes and indexed writes with logged map writes). Checked Python
# operations: the index is a plain dict a host function could have changed.
cdef int _index_add(Record t, Record row) except -1:
    cdef dict index = t.f[T_INDEX]
    rf = row.f
    rid = rf[t.f[T_ID_SLOT]]
    for slot, buckets in index.items():
        key = rf[slot]
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = {}
        bucket[rid] = True
    return 0


cdef int _index_remove(Record t, Record row) except -1:
    cdef dict index = t.f[T_INDEX]
    rf = row.f
    rid = rf[t.f[T_ID_SLOT]]
    for slot, buckets in index.items():
        key = rf[slot]
        bucket = buckets.get(key)
        if bucket is not None:
            bucket.pop(rid, None)
            if not bucket:
                del buckets[key]
    return 0


def table_sort_rows(Record t not None):
    """Put the rows dict back in id order (after undone deletes re-added rows last)."""
    _sort_rows(t)


cdef int _tnext(list obank, Py_ssize_t dst, object table, int64_t* pos) except -1:
    """TNEXT: the row at or after dict position pos[0] into obank[dst], 1; or 0
    when the table has no more rows. Walks the rows dict in place, so a
    `where` over a table copies no list of all its rows first."""
    cdef Record t = _table(table)
    cdef Py_ssize_t p = pos[0]
    cdef PyObject* key
    cdef PyObject* value
    if not PyDict_Next(t.f[T_ROWS], &p, &key, &value):
        return 0
    pos[0] = p
    _oset(obank, dst, value)
    return 1


def table_lookup(object table, Py_ssize_t slot, object key):
    """Rows whose field `slot` equals `key`, in id order (vm/table.py
    `lookup`, the `table.lookup` host function of `iterate t where f == v`):
    through the index when the table keeps one for `slot`, else a scan. In C
    because chat-like handlers look a member up on every input."""
    cdef Record t = _table(table)
    cdef dict rows = t.f[T_ROWS]
    buckets = (<dict>t.f[T_INDEX]).get(slot)
    if buckets is None:  # not indexed: a scan gives the same answer
        return [r for r in rows.values() if r.f[slot] == key]
    bucket = buckets.get(key)
    if not bucket:
        return []
    if len(bucket) == 1:
        for rid in bucket:
            return [rows[rid]]
    # ids go into a bucket in id order except after an indexed write, and
    # sorting a sorted list is one pass
    return [rows[rid] for rid in sorted(bucket)]
