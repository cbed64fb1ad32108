# The transaction undo log (spec/bytecode.md section 9): the entry shapes, the
# logged writes that produce them and the replay that reverses them.
#
# One log holds every kind of entry so that rollback replays them newest first
# whatever wrote them (FSET, the logged container opcodes, host functions).
# An entry is a tuple whose first element's type says what it restores
# (log_undo() takes these shapes; the machine logs the same ones):
#
#   (record, slot, old)        record.f[slot] = old
#   (list,)                    list.pop()                (undoes an append)
#   (list, index, old)         list[index] = old
#   (dict, key)                del dict[key]             (undoes adding a new key)
#   (dict, key, old)           dict[key] = old           (key kept its position,
#                                                         or was the last one)
#   (dict, key, old, pos)      put key back at insertion position pos
#   (dict, [keys])             put the keys back in this order (logged before
#                              the first delete from the map since the last
#                              savepoint, see _mdel_logged)
#   (callable,)                callable()                (host functions' own undo)
#   (table, first id)          drop the rows inserted from that id on (tables.pxi;
#                              the machine's own, not a log_undo() shape)
#
# `log` is None when no transaction is open: the write happens, nothing is kept.
#
# Stored flat: the machine's own entries are their elements followed by a tag
# (a host's tuple is stored whole, then U_ENTRY), so logging a write appends
# a few references and allocates nothing. A log of tuples cost about twice as
# much, most of it in allocating, freeing and GC-scanning the tuples
# (bench/README.md, "Undo log").

cdef enum:
    U_FIELD = 1   # record, slot, old
    U_POP = 2     # list
    U_LSET = 3    # list, index, old
    U_MDEL = 4    # dict, key
    U_MSET = 5    # dict, key, old
    U_ORDER = 6   # dict, list of its keys in order
    U_ENTRY = 7   # a tuple entry from log_undo()
    U_TINS = 8    # table, first id inserted in this segment


cdef int _rset_logged(list log, Record r, Py_ssize_t slot, object value) except -1:
    if slot < 0 or slot >= len(r.f):
        raise _Fault(f"record has no field slot {slot}")
    if log is not None:
        _log_field(log, r, slot)
    r.f[slot] = value
    return 0


# Bumped by begin(), savepoint() and rollback_to(): a record whose
# `logged_epoch` differs has logged nothing since then. One counter for every
# machine in the process: a bump by another machine only makes a record log a
# slot once more, which is harmless.
cdef int64_t _undo_epoch = 1


cdef inline void _new_undo_epoch() noexcept:
    global _undo_epoch
    _undo_epoch += 1


cdef inline bint _flagged(Record r, Py_ssize_t i) except -1:
    # Whether flag `i` of the record was set in the current undo epoch, and
    # set it: flags 0 .. n-1 are its slots, flag n the record as a whole (a
    # table's inserts). A record of fewer than 32 slots keeps them in a word
    # of its own (no allocation, nothing left behind once the transaction
    # ends); a wider one in a bytearray. A flag lost (the record's slots
    # replaced by a wider list mid-epoch) only logs a slot once more, which
    # rollback replays harmlessly: the oldest value is restored last.
    # Callers pass i <= n (a slot they checked, or n).
    cdef Py_ssize_t n = len(r.f)
    cdef uint32_t bit
    cdef unsigned char* bits
    if r.logged_epoch != _undo_epoch:
        r.logged_epoch = _undo_epoch
        r.logged_mask = 0
        if r.logged is not None:
            r.logged = None
    if n < 32:
        bit = (<uint32_t>1) << i
        if r.logged_mask & bit:
            return True
        r.logged_mask |= bit
        return False
    if r.logged is None or len(r.logged) <= n:
        r.logged = PyByteArray_FromStringAndSize(NULL, n + 1)  # not bytearray(n + 1): no call through the type
        memset(PyByteArray_AS_STRING(r.logged), 0, n + 1)
    bits = <unsigned char*>PyByteArray_AS_STRING(r.logged)
    if bits[i]:
        return True
    bits[i] = 1
    return False


cdef inline bint _first_in_segment(Record r) except -1:
    """True the first time since the newest savepoint (begin, savepoint,
    rollback_to) that this record asks, False after that."""
    return not _flagged(r, len(r.f))


cdef inline int _log_field(list log, Record r, Py_ssize_t slot) except -1:
    if _flagged(r, slot):
        return 0  # the oldest value of this slot is already in the log
    log.append(r)
    log.append(slot)
    log.append(r.f[slot])
    log.append(U_FIELD)
    return 0


cdef int _lpush_logged(list log, list items, object value) except -1:
    if log is not None:
        log.append(items)
        log.append(U_POP)
    items.append(value)
    return 0


cdef int _lset_logged(list log, list items, int64_t index, object value) except -1:
    if index < 0 or index >= len(items):
        raise _Fault(f"list index {index} out of range (length {len(items)})")
    if log is not None:
        log.append(items)
        log.append(index)
        log.append(items[index])
        log.append(U_LSET)
    items[index] = value
    return 0


cdef int _mput_logged(list log, dict d, object key, object value) except -1:
    if log is not None:
        log.append(d)
        log.append(key)
        if key in d:
            log.append(d[key])
            log.append(U_MSET)
        else:
            log.append(U_MDEL)
    d[key] = value
    return 0


cdef object _mdel_logged(list log, dict ordered, dict d, object key):
    """Remove `key` (if present) and return its value, else None.

    Maps iterate in insertion order, so undoing a delete must put the key back
    where it was. Re-adding puts it last, which is right only for the last
    key; for any other, the map's key order is logged once per savepoint
    segment (`ordered` holds the maps already done) and rollback restores it
    after the re-adds, when exactly those keys are back. One O(n) copy per map
    and transaction instead of a position search per delete."""
    if key not in d:
        return None
    if log is not None:
        if id(d) not in ordered and _last_key(d) != key:
            ordered[id(d)] = True
            log.append(d)
            log.append(list(d))
            log.append(U_ORDER)
        log.append(d)
        log.append(key)
        log.append(d[key])
        log.append(U_MSET)
    return d.pop(key)


cdef object _last_key(dict d):
    """The newest key of a non-empty map in O(1): next(reversed(d)) walks
    back over the holes deletes leave at the end (quadratic for a map used as
    a stack); popitem() trims them, and putting the item back keeps the order."""
    k, v = d.popitem()
    d[k] = v
    return k


cdef int _revert(object entry) except -1:
    """Replay one tuple entry (the shapes above)."""
    cdef tuple e = <tuple>entry
    cdef Py_ssize_t n = len(e)
    target = e[0]
    t = type(target)
    if t is Record:
        (<Record>target).f[e[1]] = e[2]
    elif t is list:
        if n == 1:
            (<list>target).pop()
        else:
            (<list>target)[e[1]] = e[2]
    elif t is dict:
        if n == 2 and type(e[1]) is list:
            _reorder(<dict>target, e[1])
        elif n == 2:
            (<dict>target).pop(e[1], None)
        elif n == 3:
            (<dict>target)[e[1]] = e[2]
        else:
            _reinsert(<dict>target, e[1], e[2], e[3])
    else:
        target()
    return 0


cdef int _reinsert(dict d, object key, object value, Py_ssize_t pos) except -1:
    d.pop(key, None)
    items = list(d.items())
    items.insert(pos, (key, value))
    d.clear()
    d.update(items)
    return 0


cdef int _reorder(dict d, list keys) except -1:
    # Keys the log no longer accounts for (a host wrote without logging) go last
    # rather than being lost.
    items = [(k, d[k]) for k in keys if k in d]
    if len(items) != len(d):
        kept = set(keys)
        items += [(k, v) for k, v in d.items() if k not in kept]
    d.clear()
    d.update(items)
    return 0


cdef Py_ssize_t _arity(int tag) noexcept:
    # elements stored before each tag
    if tag == U_FIELD or tag == U_LSET or tag == U_MSET:
        return 3
    if tag == U_MDEL or tag == U_ORDER or tag == U_TINS:
        return 2
    return 1


cdef int _revert_one(list log) except -1:
    """Take the newest entry off the log and reverse it."""
    cdef int tag = log.pop()
    if tag == U_ENTRY:
        return _revert(log.pop())
    if tag == U_POP:
        (<list>log.pop()).pop()
        return 0
    if tag == U_ORDER:
        keys = log.pop()
        return _reorder(<dict>log.pop(), <list>keys)
    if tag == U_MDEL:
        key = log.pop()
        (<dict>log.pop()).pop(key, None)
        return 0
    if tag == U_TINS:
        first = log.pop()
        return _tuninsert(<Record>log.pop(), first)
    old = log.pop()
    key = log.pop()
    target = log.pop()
    if tag == U_FIELD:
        (<Record>target).f[key] = old
    elif tag == U_LSET:
        (<list>target)[key] = old
    else:
        (<dict>target)[key] = old
    return 0


cdef int _revert_to(list log, Py_ssize_t length) except -1:
    """Reverse and drop the entries past `length` (a log length), newest first.
    A failing entry does not stop the others; the first failure is raised at
    the end."""
    first = None
    cdef Py_ssize_t n
    while len(log) > length:
        n = len(log) - 1 - _arity(<int>log[len(log) - 1])
        try:
            _revert_one(log)
        except Exception as e:
            if first is None:
                first = e
            del log[n:]  # an entry that failed half-way is dropped whole
    if first is not None:
        raise RuntimeError(f"rollback: an undo entry failed: {type(first).__name__}: {first}") from first
    return 0


cdef Py_ssize_t _count_entries(list log) except -1:
    cdef Py_ssize_t pos = len(log) - 1
    cdef Py_ssize_t n = 0
    while pos >= 0:
        pos -= 1 + _arity(<int>log[pos])
        n += 1
    return n


def _check_entry(entry):
    """Refuse, when it is logged, an entry that rollback could not replay."""
    if type(entry) is not tuple or not entry:
        raise TypeError("an undo entry is a non-empty tuple")
    n = len(entry)
    t = type(entry[0])
    if t is Record:
        ok = n == 3 and type(entry[1]) is int and 0 <= entry[1] < len((<Record>entry[0]).f)
    elif t is list:
        ok = n == 1 or (n == 3 and type(entry[1]) is int)
    elif t is dict:
        ok = n in (2, 3) or (n == 4 and type(entry[3]) is int)
        if n == 2 and type(entry[1]) is list:
            ok = all(k in entry[0] for k in entry[1])
    else:
        ok = n == 1 and callable(entry[0])
    if not ok:
        raise TypeError(f"not an undo entry shape: ({t.__name__}, ...) of length {n}")


_KIND_NAMES = {U_FIELD: "field", U_POP: "append", U_LSET: "set", U_MDEL: "add", U_MSET: "put",
               U_ORDER: "order", U_ENTRY: "entry", U_TINS: "insert"}


cdef list _written(list log, bint detail):
    """The entries of a (committed) log as Machine.written() describes them.
    Walked newest first (a flat entry ends with its tag), then reversed."""
    cdef list out = []
    cdef Py_ssize_t pos = len(log) - 1
    cdef int tag
    cdef Py_ssize_t n
    while pos >= 0:
        tag = <int>log[pos]
        n = _arity(tag)
        base = pos - n
        target = log[base]
        old = None
        if tag == U_FIELD or tag == U_LSET or tag == U_MSET:
            key = log[base + 1]
            old = log[base + 2]
        elif tag == U_MDEL or tag == U_TINS:
            key = log[base + 1]
        else:
            key = None
        if detail:
            out.append((_KIND_NAMES[tag], target, key, old))
        else:
            out.append((target, key))
        pos = base - 1
    out.reverse()
    return out
