"""Reading a log record in C: replay reads every entry (spec/store.md 3, 18).

`quick_row(raw, seq)` checks a record's header and CRC-32 and decodes its
positional envelope, or returns None for anything it does not take on (store/
log.py then decodes the record with cbor2 and says what is wrong, if
anything). It decodes only plain CBOR: integers, byte and text strings,
arrays, maps, false, true, null and floats (16, 32 or 64 bits), all of definite
length; a tag, an indefinite length, a NaN, `undefined` or a map key
that is not a string, integer or byte string hands the record to cbor2, which
then decides exactly as before. So this path gives what cbor2 gives or
nothing.
"""
from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.long cimport PyLong_FromUnsignedLongLong
from cpython.ref cimport Py_INCREF
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.math cimport INFINITY, ldexp
from libc.string cimport memcpy

cdef enum:
    HEAD = 7            # store/records.py: magic, version, kind, CRC-32
    MAGIC = 0xAD
    VERSION = 1
    KIND_LOG = 0x4C     # b"L"
    MAX_DEPTH = 64      # deeper payloads go to cbor2

cdef uint32_t CRC_TABLE[256]


cdef void _crc_table():
    cdef uint32_t c
    cdef int n, k
    for n in range(256):
        c = n
        for k in range(8):
            c = (0xEDB88320 ^ (c >> 1)) if (c & 1) else (c >> 1)
        CRC_TABLE[n] = c


_crc_table()


cdef uint32_t _crc32(const uint8_t* p, Py_ssize_t n):
    # zlib.crc32 (IEEE 802.3, reflected), byte at a time
    cdef uint32_t c = 0xFFFFFFFF
    cdef Py_ssize_t i
    for i in range(n):
        c = CRC_TABLE[(c ^ p[i]) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def crc32(data):
    """CRC-32 as zlib computes it (for the tests)."""
    cdef Py_buffer view
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        return _crc32(<const uint8_t*>view.buf, view.len)
    finally:
        PyBuffer_Release(&view)


cdef object _half(uint32_t h):
    # IEEE 754 binary16 -> float, as struct.unpack(">e") gives it (NaN: cbor2)
    cdef int exp = (h >> 10) & 0x1F
    cdef int mant = h & 0x3FF
    cdef double v
    if exp == 0:
        v = ldexp(<double>mant, -24)
    elif exp == 31:
        if mant:
            raise _Other()
        v = INFINITY
    else:
        v = ldexp(<double>(mant + 1024), exp - 25)
    return -v if h & 0x8000 else v


class _Other(Exception):
    """Not plain CBOR this decoder takes on: cbor2 decides."""


cdef class _Cursor:
    cdef const uint8_t* p
    cdef Py_ssize_t n
    cdef Py_ssize_t pos

    cdef uint64_t arg(self, int info) except? 0xFFFFFFFFFFFFFFFF:
        cdef int width, i
        cdef uint64_t v = 0
        if info < 24:
            return info
        if info == 24:
            width = 1
        elif info == 25:
            width = 2
        elif info == 26:
            width = 4
        elif info == 27:
            width = 8
        else:
            raise _Other()  # indefinite length or reserved
        if self.pos + width > self.n:
            raise _Other()
        for i in range(width):
            v = (v << 8) | self.p[self.pos + i]
        self.pos += width
        return v

    cdef object item(self, int depth):
        cdef int ib, major, info
        cdef uint64_t a, i
        cdef uint32_t bits32
        cdef uint64_t bits64
        cdef float f32
        cdef double f64
        cdef list out
        cdef dict m
        if self.pos >= self.n or depth > MAX_DEPTH:
            raise _Other()
        ib = self.p[self.pos]
        self.pos += 1
        major = ib >> 5
        info = ib & 31
        if major == 7:
            if info == 20:
                return False
            if info == 21:
                return True
            if info == 22:
                return None
            if info == 25:  # cbor2 writes a float as a half when that is exact
                bits32 = <uint32_t>self.arg(info)
                return _half(bits32)
            if info == 26:
                bits32 = <uint32_t>self.arg(info)
                memcpy(&f32, &bits32, 4)
                return <double>f32
            if info == 27:
                bits64 = self.arg(info)
                memcpy(&f64, &bits64, 8)
                return f64
            raise _Other()  # undefined, simple values, break
        if major == 6:
            raise _Other()  # tags: cbor2's semantic decoders
        a = self.arg(info)
        if major == 0:
            return PyLong_FromUnsignedLongLong(a)
        if major == 1:
            return -1 - PyLong_FromUnsignedLongLong(a)
        if major == 2 or major == 3:
            if a > <uint64_t>(self.n - self.pos):
                raise _Other()
            i = self.pos
            self.pos += <Py_ssize_t>a
            if major == 2:
                return PyBytes_FromStringAndSize(<const char*>(self.p + i), <Py_ssize_t>a)
            try:
                return PyUnicode_DecodeUTF8(<const char*>(self.p + i), <Py_ssize_t>a, NULL)
            except UnicodeDecodeError:
                raise _Other()  # cbor2 raises its own error for it
        if a > <uint64_t>(self.n - self.pos):
            raise _Other()  # more items than bytes left: not well formed
        if major == 4:
            out = PyList_New(<Py_ssize_t>a)
            for i in range(a):
                v = self.item(depth + 1)
                Py_INCREF(v)
                PyList_SET_ITEM(out, <Py_ssize_t>i, v)
            return out
        m = {}
        for i in range(a):
            k = self.item(depth + 1)
            if type(k) is not str and type(k) is not int and type(k) is not bytes:
                raise _Other()  # cbor2 turns lists into tuples and so on
            m[k] = self.item(depth + 1)
        return m


def quick_row(raw, Py_ssize_t seq):
    """The decoded positional envelope of a well-formed log record stored
    under `seq` (a list of 8 or 9 items whose seq, time and kind have their
    types), or None: then cbor2 and store/log.py `decode` look at it."""
    cdef Py_buffer view
    cdef const uint8_t* p
    cdef _Cursor c
    cdef uint32_t crc
    cdef list row
    PyObject_GetBuffer(raw, &view, PyBUF_SIMPLE)
    try:
        p = <const uint8_t*>view.buf
        if view.len <= HEAD or p[0] != MAGIC or p[1] != VERSION or p[2] != KIND_LOG:
            return None
        crc = (<uint32_t>p[3] << 24) | (<uint32_t>p[4] << 16) | (<uint32_t>p[5] << 8) | p[6]
        if _crc32(p + HEAD, view.len - HEAD) != crc:
            return None
        c = _Cursor.__new__(_Cursor)
        c.p = p + HEAD
        c.n = view.len - HEAD
        c.pos = 0
        if (c.p[0] >> 5) != 4:
            return None
        try:
            value = c.item(0)
        except _Other:
            return None
        if c.pos != c.n:
            return None  # trailing bytes: cbor2 decides
        row = value
        if not 8 <= len(row) <= 9:
            return None
        if type(row[0]) is not int or row[0] != seq or type(row[1]) is not int \
                or type(row[2]) is not str or (len(row) == 9 and type(row[8]) is not dict):
            return None
        return row
    finally:
        PyBuffer_Release(&view)


cdef Py_ssize_t _end(const uint8_t* p, Py_ssize_t n, Py_ssize_t pos, int depth) except -1:
    cdef int ib, major, info, width, i
    cdef uint64_t a = 0, k
    if pos >= n or depth > 10000:
        raise ValueError("not one well-formed CBOR item")
    ib = p[pos]
    pos += 1
    major = ib >> 5
    info = ib & 31
    if info < 24:
        a = info
    elif info <= 27:
        width = 1 << (info - 24)
        if pos + width > n:
            raise ValueError("not one well-formed CBOR item")
        for i in range(width):
            a = (a << 8) | p[pos + i]
        pos += width
    else:
        raise ValueError("indefinite lengths are not skipped here")
    if major == 0 or major == 1 or major == 7:
        return pos
    if major == 2 or major == 3:
        if a > <uint64_t>(n - pos):
            raise ValueError("not one well-formed CBOR item")
        return pos + <Py_ssize_t>a
    if major == 6:
        return _end(p, n, pos, depth + 1)
    if major == 5:
        a *= 2
    if a > <uint64_t>(n - pos):
        raise ValueError("not one well-formed CBOR item")
    k = 0
    while k < a:
        pos = _end(p, n, pos, depth + 1)
        k += 1
    return pos


def item_end(data, Py_ssize_t pos):
    """Where the CBOR item starting at `pos` ends, read from its heads only
    (store/noviews.py skips the viewers' part of a snapshot with it).
    ValueError when the bytes there are not one definite-length item."""
    cdef Py_buffer view
    PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    try:
        if pos < 0:
            raise ValueError("negative position")
        return _end(<const uint8_t*>view.buf, view.len, pos, 0)
    finally:
        PyBuffer_Release(&view)
