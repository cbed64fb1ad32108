# Object-bank helpers used by the dispatch loop. They work on Python objects
# (strings, lists, maps, records, maybes); only the typed numeric paths of the
# loop must stay unboxed. Language-level failures raise _Fault, which the loop
# turns into a VMError naming the instruction's source position.


cdef extern from "Python.h":
    # The same macros with borrowed-pointer signatures, so the hot cases can
    # read registers and fields without touching reference counts.
    ctypedef struct PyListObject:
        PyObject** ob_item
    PyTypeObject* _type_of "Py_TYPE"(PyObject* o)
    Py_ssize_t _list_size "PyList_GET_SIZE"(PyObject* o)
    PyObject* _list_item "PyList_GET_ITEM"(PyObject* o, Py_ssize_t i)
    bint _is_int "PyLong_CheckExact"(PyObject* o)
    bint _is_float "PyFloat_CheckExact"(PyObject* o)
    double _float_value "PyFloat_AS_DOUBLE"(PyObject* o)
    long long _long_value "PyLong_AsLongLong"(PyObject* o) except? -1


class _Fault(Exception):
    """A runtime error detected inside the loop; `abort` marks the abort statement."""

    def __init__(self, message, abort=False):
        super().__init__(message)
        self.abort = abort


cdef inline bint _near(double x, double y) noexcept nogil:
    # The language's approximate double equality (spec/language.md 3.10):
    # an absolute tolerance of 1e-9 near zero, relative for larger values.
    if x == y:
        return True
    if not (isfinite(x) and isfinite(y)):
        return False
    return fabs(x - y) <= 1e-9 * fmax(1.0, fmax(fabs(x), fabs(y)))


cdef inline int64_t _sat64(double x) noexcept nogil:
    # Java's (long) cast: truncate toward zero, saturate, NaN -> 0.
    if isnan(x):
        return 0
    if x >= 9223372036854775807.0:
        return INT64_MAX
    if x <= -9223372036854775808.0:
        return INT64_MIN
    return <int64_t>x


cdef inline int64_t _sat32(double x) noexcept nogil:
    if isnan(x):
        return 0
    if x >= 2147483647.0:
        return 2147483647
    if x <= -2147483648.0:
        return -2147483648
    return <int64_t><int32_t>x


cdef object _str(object v):
    if type(v) is not str:
        raise _Fault(f"expected a string, found {_kind(v)}")
    return v


cdef object _list(object v):
    if type(v) is not list:
        raise _Fault(f"expected a list, found {_kind(v)}")
    return v


cdef object _dict(object v):
    if type(v) is not dict:
        raise _Fault(f"expected a map, found {_kind(v)}")
    return v


cdef Record _record(object v):
    if type(v) is not Record:
        raise _Fault(f"expected a record, found {_kind(v)}")
    return <Record>v


cdef str _kind(object v):
    if v is None:
        return "an empty maybe"
    return type(v).__name__


cdef object _field(Record r, int slot):
    if slot >= len(r.f):
        raise _Fault(f"record has no field slot {slot}")
    return r.f[slot]


cdef int64_t _unbox_int(object v) except? -1:
    if v is None:
        raise _Fault("read of an empty maybe")
    if type(v) is bool:
        return 1 if v else 0
    if type(v) is not int:
        raise _Fault(f"expected an integer, found {_kind(v)}")
    return v


cdef double _unbox_double(object v) except? -1.0:
    if v is None:
        raise _Fault("read of an empty maybe")
    if type(v) is not float:
        raise _Fault(f"expected a double, found {_kind(v)}")
    return v


cdef str _dtos(double x):
    # Shortest text that reads back to the same double (Python's repr);
    # infinities and NaN spelled as the language prints them.
    if isnan(x):
        return "NaN"
    if x == INFINITY:
        return "Infinity"
    if x == -INFINITY:
        return "-Infinity"
    return repr(x)


cdef int _lset(object lst, int64_t index, object value) except -1:
    cdef list items = _list(lst)
    if index < 0 or index >= len(items):
        raise _Fault(f"list index {index} out of range (length {len(items)})")
    items[index] = value
    return 0


# ------------------------------------------------- borrowed-reference fast paths
# Registers and fields read in place: the hot object cases (row fields, list
# items, moves) leave the objects they only look at untouched, which matters
# when a loop walks more rows than the caches hold.

cdef inline PyObject* _oreg(list bank, Py_ssize_t i) noexcept:
    return _list_item(<PyObject*>bank, i)


cdef inline void _oset(list bank, Py_ssize_t i, PyObject* v) noexcept:
    """bank[i] = v for a borrowed v (i is inside the bank: the verifier's window)."""
    cdef PyObject** items = (<PyListObject*>bank).ob_item
    cdef PyObject* old = items[i]
    Py_XINCREF(v)
    items[i] = v
    Py_XDECREF(old)


cdef inline PyObject* _fieldp(PyObject* rec, Py_ssize_t slot) except NULL:
    """rec.f[slot], borrowed."""
    cdef PyObject* f
    if _type_of(rec) != <PyTypeObject*>Record:
        raise _Fault(f"expected a record, found {_kind(<object>rec)}")
    f = <PyObject*>(<Record>rec).f
    if f == <PyObject*>None or slot >= _list_size(f):
        raise _Fault(f"record has no field slot {slot}")
    return _list_item(f, slot)


cdef inline int _rset(PyObject* rec, Py_ssize_t slot, object v) except -1:
    """rec.f[slot] = v (RSET*: unlogged)."""
    _fieldp(rec, slot)  # checks the record and the slot
    cdef PyObject** items = (<PyListObject*>(<Record>rec).f).ob_item
    cdef PyObject* old = items[slot]
    Py_INCREF(v)
    items[slot] = <PyObject*>v
    Py_XDECREF(old)
    return 0


cdef inline int64_t _int_at(PyObject* v) except? -1:
    if _is_int(v):
        return _long_value(v)
    return _unbox_int(<object>v)


cdef inline double _double_at(PyObject* v) except? -1.0:
    if _is_float(v):
        return _float_value(v)
    return _unbox_double(<object>v)


cdef inline PyObject* _litem(PyObject* lst, int64_t index) except NULL:
    """lst[index] borrowed, or None when out of range (LGET)."""
    if _type_of(lst) != &PyList_Type:
        raise _Fault(f"expected a list, found {_kind(<object>lst)}")
    if index < 0 or index >= _list_size(lst):
        return <PyObject*>None
    return _list_item(lst, index)


def project(list rows not None, Py_ssize_t slot):
    """[r.f[slot] for r in rows] (`rows.field` on a list of records), in C."""
    cdef Py_ssize_t i, n = len(rows)
    cdef list out = [None] * n
    cdef PyObject* v
    for i in range(n):
        v = _fieldp(_list_item(<PyObject*>rows, i), slot)
        _oset(out, i, v)
    return out
