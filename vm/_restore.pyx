# cython: language_level=3
"""The snapshot value codec (spec/snapshot.md section 3): machine values to
CBOR and back, in one pass each way once sharing is known.

Waking a document is dominated by decoding its values, so the format is
built for the decoder: a record is a plain CBOR array [layout, field...]
(no tag, no heap entry), and only a container that is reachable more than
once (shared, or on a cycle such as a row's owner slot pointing back at its
table) is marked, with the standard value-sharing tags: 28 before its first
occurrence, 29 with its number at every later one. The decoder builds
Records, lists and dicts straight from the bytes; a shared container is made
empty when its tag 28 is met, so references inside it (cycles) resolve.

Encoding first counts how often each container is reached (by identity),
then writes. The bytes follow from the graph alone (its shape, order and
scalars), never from addresses, so equal states give equal bytes in any
process.
"""
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.float cimport PyFloat_FromDouble
from cpython.list cimport PyList_GET_ITEM, PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF
from cpython.unicode cimport PyUnicode_DecodeUTF8, PyUnicode_AsUTF8String
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_FromVoidPtr

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object s, Py_ssize_t* size) except NULL
cimport cython
from libc.stdint cimport int64_t, uint8_t, uint16_t, uint32_t, uint64_t, uintptr_t
from libc.stdlib cimport calloc, free, malloc, realloc
from libc.string cimport memcmp, memcpy

import gc
import sys
from array import array

from ._machine cimport Record
from .continuation import Continuation
from .errors import SnapshotError

cdef enum:
    TAG_SHAREABLE = 28   # the next container is referred to again (or is on a cycle)
    TAG_SHARED = 29      # a reference: the number of a container marked 28 earlier
    TAG_LIST = 40101     # a list value (a bare array is a record)
    TAG_CONT = 40102     # a continuation: [frames, int bank, double bank, [object bank], payload, module id]
    TAG_EMPTY_RECORD = 40103  # a record without a field list: its layout
    # Nesting the codec accepts: it recurses on the C stack (two frames a level
    # when reading), which must fit a thread's stack; documents nest by their
    # types, a few levels, and the earlier Python codec stopped near 1,000.
    MAX_DEPTH = 2000
    TEXT_CACHED = 48     # texts up to this many bytes are looked up in _Reader.texts
    TEXT_SLOTS = 256     # a power of two

cdef bint _LITTLE = sys.byteorder == "little"
cdef object _Continuation = Continuation  # a C global: compared once per value written


cdef inline bint _container(object t):
    return t is Record or t is list or t is dict or t is _Continuation


def _banks(raw, code):
    """Register bank bytes in little-endian order whatever the host's order
    (a swap is its own inverse)."""
    if _LITTLE:
        return bytes(raw)
    values = array(code, raw)
    values.byteswap()
    return values.tobytes()


# ---------------------------------------------------------------- encoding


cdef inline Py_ssize_t _spread(uintptr_t key):
    # Object addresses are multiples of 16: mix the high bits into the low ones.
    cdef uint64_t h = <uint64_t>key
    h ^= h >> 33
    h *= <uint64_t>0xff51afd7ed558ccd
    h ^= h >> 33
    return <Py_ssize_t>h


@cython.final
cdef class _Writer:
    cdef char* buf
    cdef Py_ssize_t size
    cdef Py_ssize_t cap
    # The containers met, by address: an open-addressing table (linear
    # probing) of addresses, how often each is reached (the counting pass)
    # and, once written, its number (the order of tag 28s; -1 before).
    cdef uintptr_t* keys
    cdef uint32_t* reached
    cdef int64_t* number
    cdef Py_ssize_t slots   # a power of two
    cdef Py_ssize_t used
    cdef int64_t numbered
    cdef list keep      # the containers counted, so no address is reused while encoding

    def __cinit__(self):
        self.cap = 1 << 16
        self.buf = <char*>malloc(self.cap)
        if self.buf == NULL:
            raise MemoryError()
        self.size = 0
        self.keep = []
        self.slots = 0
        self.used = 0
        self.numbered = 0
        self.grow(1 << 12)

    def __dealloc__(self):
        free(self.buf)
        free(self.keys)
        free(self.reached)
        free(self.number)

    cdef int grow(self, Py_ssize_t slots) except -1:
        # A new table of `slots` slots, the entries of the old one moved in.
        cdef uintptr_t* keys = <uintptr_t*>calloc(slots, sizeof(uintptr_t))
        cdef uint32_t* reached = <uint32_t*>malloc(slots * sizeof(uint32_t))
        cdef int64_t* number = <int64_t*>malloc(slots * sizeof(int64_t))
        cdef Py_ssize_t i, j, mask = slots - 1
        if keys == NULL or reached == NULL or number == NULL:
            free(keys)
            free(reached)
            free(number)
            raise MemoryError()
        for i in range(self.slots):
            if self.keys[i]:
                j = _spread(self.keys[i]) & mask
                while keys[j]:
                    j = (j + 1) & mask
                keys[j] = self.keys[i]
                reached[j] = self.reached[i]
                number[j] = self.number[i]
        free(self.keys)
        free(self.reached)
        free(self.number)
        self.keys, self.reached, self.number, self.slots = keys, reached, number, slots
        return 0

    cdef inline Py_ssize_t find(self, uintptr_t key):
        # The slot of `key`, or the empty slot where it would go.
        cdef Py_ssize_t mask = self.slots - 1
        cdef Py_ssize_t i = _spread(key) & mask
        while self.keys[i] and self.keys[i] != key:
            i = (i + 1) & mask
        return i

    cdef int reserve(self, Py_ssize_t n) except -1:
        cdef Py_ssize_t cap = self.cap
        cdef char* grown
        if self.size + n <= cap:
            return 0
        while self.size + n > cap:
            cap *= 2
        grown = <char*>realloc(self.buf, cap)
        if grown == NULL:
            raise MemoryError()
        self.buf = grown
        self.cap = cap
        return 0

    cdef inline int head(self, int major, uint64_t n) except -1:
        cdef uint8_t* p
        self.reserve(9)
        p = <uint8_t*>(self.buf + self.size)
        major <<= 5
        if n < 24:
            p[0] = major | n
            self.size += 1
        elif n < 0x100:
            p[0] = major | 24
            p[1] = n
            self.size += 2
        elif n < 0x10000:
            p[0] = major | 25
            p[1] = n >> 8
            p[2] = n
            self.size += 3
        elif n < 0x100000000:
            p[0] = major | 26
            p[1] = n >> 24
            p[2] = n >> 16
            p[3] = n >> 8
            p[4] = n
            self.size += 5
        else:
            p[0] = major | 27
            p[1] = n >> 56
            p[2] = n >> 48
            p[3] = n >> 40
            p[4] = n >> 32
            p[5] = n >> 24
            p[6] = n >> 16
            p[7] = n >> 8
            p[8] = n
            self.size += 9
        return 0

    cdef int raw(self, const char* data, Py_ssize_t n) except -1:
        self.reserve(n)
        memcpy(self.buf + self.size, data, n)
        self.size += n
        return 0

    cdef int byte_string(self, int major, bytes b) except -1:
        self.head(major, PyBytes_GET_SIZE(b))
        self.raw(PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b))
        return 0

    cdef int text(self, object s) except -1:
        # The UTF-8 form CPython keeps with the string (for ASCII text, its
        # own bytes): no bytes object per string.
        cdef Py_ssize_t n
        cdef const char* data = PyUnicode_AsUTF8AndSize(s, &n)
        self.head(3, n)
        return self.raw(data, n)

    cdef int integer(self, object v) except -1:
        cdef uint64_t u
        cdef int overflow = 0
        cdef long long small = PyLong_AsLongLongAndOverflow(v, &overflow)
        if overflow == 0:  # the usual int: no Python comparisons
            if small >= 0:
                return self.head(0, <uint64_t>small)
            return self.head(1, <uint64_t>(-1 - small))
        if v >= 0:
            if v <= 0xFFFFFFFFFFFFFFFF:
                u = v
                return self.head(0, u)
            self.head(6, 2)
            return self.byte_string(2, v.to_bytes((v.bit_length() + 7) // 8, "big"))
        v = -1 - v
        if v <= 0xFFFFFFFFFFFFFFFF:
            u = v
            return self.head(1, u)
        self.head(6, 3)
        return self.byte_string(2, v.to_bytes((v.bit_length() + 7) // 8, "big"))

    cdef int double(self, double d) except -1:
        cdef uint64_t bits
        cdef uint8_t* p
        cdef int i
        memcpy(&bits, &d, 8)
        self.reserve(9)
        p = <uint8_t*>(self.buf + self.size)
        p[0] = 0xfb
        for i in range(8):
            p[1 + i] = bits >> (56 - 8 * i)
        self.size += 9
        return 0

    cdef bint scalar(self, object v) except -1:
        """Write v if it is a scalar; False if it is not one."""
        t = type(v)
        if t is str:
            self.text(v)
        elif t is int:
            self.integer(v)
        elif t is float:
            self.double(v)
        elif v is None:
            self.head(7, 22)
        elif t is bool:
            self.head(7, 21 if v else 20)
        elif t is bytes:
            self.byte_string(2, v)
        elif isinstance(v, bool):
            self.head(7, 21 if v else 20)
        elif isinstance(v, int):
            self.integer(int(v))
        elif isinstance(v, float):
            self.double(float(v))
        elif isinstance(v, str):
            self.byte_string(3, PyUnicode_AsUTF8String(str(v)))
        elif isinstance(v, bytes):
            self.byte_string(2, bytes(v))
        else:
            return False
        return True

    # The counting pass: how often each container is reached.
    cdef int count(self, object v, int depth) except -1:
        cdef Py_ssize_t i
        cdef uintptr_t key
        t = type(v)
        if not _container(t):
            return 0
        if depth > MAX_DEPTH:
            raise ValueError(f"cannot snapshot values nested more than {MAX_DEPTH} deep")
        key = <uintptr_t><void*>v
        i = self.find(key)
        if self.keys[i]:
            if self.reached[i] < 2:
                self.reached[i] += 1  # more than once is all that matters
            return 0
        self.keys[i] = key
        self.reached[i] = 1
        self.number[i] = -1
        self.used += 1
        if self.used * 2 > self.slots:
            self.grow(self.slots * 2)
        self.keep.append(v)
        # (scalars skipped here, not in a call each)
        if t is Record:
            f = (<Record>v).f
            if f is not None:
                for x in <list>f:
                    if _container(type(x)):
                        self.count(x, depth + 1)
        elif t is list:
            for x in <list>v:
                if _container(type(x)):
                    self.count(x, depth + 1)
        elif t is dict:
            for x in (<dict>v).values():
                if _container(type(x)):
                    self.count(x, depth + 1)
        else:
            for x in v.obank:
                self.count(x, depth + 1)
            self.count(v.payload, depth + 1)
        return 0

    cdef int value(self, object v) except -1:
        cdef Py_ssize_t i
        cdef Record r
        t = type(v)
        # containers first: scalar() tries a dozen types before it gives up
        if not _container(t):
            if self.scalar(v):
                return 0
            raise TypeError(f"cannot snapshot a value of type {t.__name__}")
        i = self.find(<uintptr_t><void*>v)
        if not self.keys[i]:  # not met by the counting pass: the graph changed under us
            raise RuntimeError("a value changed while its snapshot was written")
        if self.number[i] >= 0:
            self.head(6, TAG_SHARED)
            return self.head(0, <uint64_t>self.number[i])
        if self.reached[i] > 1:
            self.number[i] = self.numbered
            self.numbered += 1
            self.head(6, TAG_SHAREABLE)
        if t is Record:
            r = <Record>v
            f = r.f
            if f is None:
                self.head(6, TAG_EMPTY_RECORD)
                return self.head(0, <uint32_t>r.layout)
            self.head(4, len(<list>f) + 1)
            self.head(0, <uint32_t>r.layout)
            for x in <list>f:
                self.value(x)
        elif t is list:
            self.head(6, TAG_LIST)
            self.head(4, len(<list>v))
            for x in <list>v:
                self.value(x)
        elif t is dict:
            self.head(5, len(<dict>v))
            for k, x in (<dict>v).items():
                if not self.scalar(k):
                    raise TypeError(f"cannot snapshot a map key of type {type(k).__name__}")
                self.value(x)
        else:
            self.head(6, TAG_CONT)
            self.head(4, 6)
            self.plain(v.frames)
            self.byte_string(2, _banks(v.ibank, "q"))
            self.byte_string(2, _banks(v.dbank, "d"))
            self.head(4, len(v.obank))
            for x in v.obank:
                self.value(x)
            self.value(v.payload)
            self.scalar(v.module_id)
        return 0

    cdef int plain(self, object frames) except -1:
        # A continuation's frames: lists of ints, not values (no tag on the lists).
        self.head(4, len(frames))
        for frame in frames:
            self.head(4, len(frame))
            for x in frame:
                self.integer(x)
        return 0


def encode(root, str fmt, int version):
    """[fmt, version, root] as CBOR bytes (spec/snapshot.md section 3)."""
    cdef _Writer w = _Writer()
    w.count(root, 0)
    w.head(4, 3)
    w.scalar(fmt)
    w.scalar(version)
    w.value(root)
    return PyBytes_FromStringAndSize(w.buf, w.size)


# ---------------------------------------------------------------- decoding


class _Corrupt(Exception):
    pass


cdef inline Record _record(int layout, list f):
    # Record(layout, f) as its __init__ leaves it, without a call through the
    # type: the undo flags start clear (zeroed), `logged` None.
    cdef Record r = Record.__new__(Record)
    r.layout = layout
    r.f = f
    return r


@cython.final
cdef class _Reader:
    cdef const uint8_t* p
    cdef Py_ssize_t pos
    cdef Py_ssize_t end
    cdef list shared    # containers marked 28, in the order met
    cdef object data    # keeps the buffer alive
    # Short texts recur (principals, names, labels): the last one decoded
    # per hash of its bytes, given again for the same bytes (one string
    # object, not one per occurrence; strings are immutable, so nothing can
    # tell them apart but identity, which no value depends on).
    cdef list texts

    cdef inline int need(self, Py_ssize_t n) except -1:
        if self.end - self.pos < n:
            raise _Corrupt("truncated")
        return 0

    cdef inline uint64_t arg(self, uint8_t info) except? 0xFFFFFFFFFFFFFFFF:
        # The argument of a head whose first byte carried `info` (already consumed).
        cdef const uint8_t* p
        cdef uint64_t n
        if info < 24:
            return info
        p = self.p + self.pos
        if info == 24:
            self.need(1)
            self.pos += 1
            return p[0]
        if info == 25:
            self.need(2)
            self.pos += 2
            return (<uint64_t>p[0] << 8) | p[1]
        if info == 26:
            self.need(4)
            self.pos += 4
            return (<uint64_t>p[0] << 24) | (<uint64_t>p[1] << 16) | (<uint64_t>p[2] << 8) | p[3]
        if info == 27:
            self.need(8)
            self.pos += 8
            n = ((<uint64_t>p[0] << 56) | (<uint64_t>p[1] << 48) | (<uint64_t>p[2] << 40)
                 | (<uint64_t>p[3] << 32) | (<uint64_t>p[4] << 24) | (<uint64_t>p[5] << 16)
                 | (<uint64_t>p[6] << 8) | p[7])
            return n
        raise _Corrupt("indefinite or reserved length")

    cdef uint64_t head(self, int* major) except? 0xFFFFFFFFFFFFFFFF:
        cdef uint8_t b
        self.need(1)
        b = self.p[self.pos]
        self.pos += 1
        major[0] = b >> 5
        return self.arg(b & 31)

    cdef bytes byte_string(self, uint64_t n):
        cdef bytes out
        if <uint64_t>(self.end - self.pos) < n:
            raise _Corrupt("truncated")
        out = PyBytes_FromStringAndSize(<const char*>(self.p + self.pos), <Py_ssize_t>n)
        self.pos += <Py_ssize_t>n
        return out

    cdef str text(self, uint64_t n):
        cdef str out
        cdef object known
        cdef const uint8_t* p = self.p + self.pos
        cdef const char* have
        cdef Py_ssize_t size
        cdef uint32_t h
        if <uint64_t>(self.end - self.pos) < n:
            raise _Corrupt("truncated")
        if n == 0 or n > TEXT_CACHED:
            out = PyUnicode_DecodeUTF8(<const char*>p, <Py_ssize_t>n, "strict")
            self.pos += <Py_ssize_t>n
            return out
        # a hash of the length and three bytes: cheap, and a miss only costs the decode
        h = (<uint32_t>n * 2654435761u) ^ (<uint32_t>p[0] * 40503u) \
            ^ (<uint32_t>p[n >> 1] * 9973u) ^ (<uint32_t>p[n - 1] * 131u)
        h = (h ^ (h >> 13)) & (TEXT_SLOTS - 1)
        known = <object>PyList_GET_ITEM(self.texts, <Py_ssize_t>h)
        if known is not None:
            have = PyUnicode_AsUTF8AndSize(known, &size)
            if <uint64_t>size == n and memcmp(have, p, n) == 0:
                self.pos += <Py_ssize_t>n
                return <str>known
        out = PyUnicode_DecodeUTF8(<const char*>p, <Py_ssize_t>n, "strict")
        self.texts[h] = out
        self.pos += <Py_ssize_t>n
        return out

    cdef uint64_t count(self, uint64_t n) except? 0xFFFFFFFFFFFFFFFF:
        # Every item takes at least one byte: a count beyond the bytes left is corrupt
        # (and would otherwise allocate without bound).
        if n > <uint64_t>(self.end - self.pos):
            raise _Corrupt("count beyond the data")
        return n

    cdef object simple(self, uint8_t info):
        cdef const uint8_t* p = self.p + self.pos
        cdef uint64_t bits
        cdef double d
        cdef float f
        cdef uint32_t b32
        cdef uint16_t h
        cdef int i, e, m
        if info == 20:
            return False
        if info == 21:
            return True
        if info == 22:
            return None
        if info == 27:
            self.need(8)
            bits = 0
            for i in range(8):
                bits = (bits << 8) | p[i]
            self.pos += 8
            memcpy(&d, &bits, 8)
            return PyFloat_FromDouble(d)
        if info == 26:
            self.need(4)
            b32 = (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | p[3]
            self.pos += 4
            memcpy(&f, &b32, 4)
            return PyFloat_FromDouble(f)
        if info == 25:
            self.need(2)
            h = (<uint16_t>p[0] << 8) | p[1]
            self.pos += 2
            e = (h >> 10) & 31
            m = h & 1023
            if e == 0:
                d = m * 2.0 ** -24
            elif e == 31:
                d = float("inf") if m == 0 else float("nan")
            else:
                d = (1024 + m) * 2.0 ** (e - 25)
            return PyFloat_FromDouble(-d if h & 0x8000 else d)
        raise _Corrupt(f"unexpected simple value {info}")

    cdef object value(self, int depth):
        cdef int major
        cdef uint64_t n, i
        cdef uint8_t b
        cdef bint mark = False
        cdef dict d
        if depth > MAX_DEPTH:
            raise _Corrupt("nested too deep")
        self.need(1)
        b = self.p[self.pos]
        self.pos += 1
        major = b >> 5
        if major == 7:
            return self.simple(b & 31)
        n = self.arg(b & 31)
        if major == 0:
            return n
        if major == 3:
            return self.text(n)
        if major == 1:
            return -1 - <object>n
        if major == 6:
            if n == TAG_SHARED:
                n = self.head(&major)
                if major != 0 or n >= <uint64_t>len(self.shared):
                    raise _Corrupt("bad reference")
                return self.shared[n]
            if n == TAG_SHAREABLE:
                mark = True
                self.need(1)
                b = self.p[self.pos]
                self.pos += 1
                major = b >> 5
                n = self.arg(b & 31)
                if major == 6 and n != TAG_LIST and n != TAG_CONT and n != TAG_EMPTY_RECORD:
                    raise _Corrupt("tag 28 on a tag that is not a container")
                if major != 4 and major != 5 and major != 6:
                    raise _Corrupt("tag 28 on a scalar")
                if major == 6:
                    return self.tagged(n, depth, True)
            else:
                return self.tagged(n, depth, False)
        if major == 4:
            return self.record(self.count(n), depth, mark)
        if major == 5:
            n = self.count(n)
            d = {}
            if mark:
                self.shared.append(d)
            for i in range(n):
                k = self.value(depth + 1)
                if type(k) is list or type(k) is dict or type(k) is Record:
                    raise _Corrupt("a container as a map key")
                d[k] = self.value(depth + 1)
            return d
        if major == 2:
            return self.byte_string(n)
        raise _Corrupt(f"unexpected major type {major}")

    cdef object record(self, uint64_t n, int depth, bint mark):
        cdef int major
        cdef uint64_t layout, i
        cdef list f
        cdef Record rec
        if n == 0:
            raise _Corrupt("a record without its layout")
        layout = self.head(&major)
        if major != 0 or layout > 0x7FFFFFFF:
            raise _Corrupt("bad record layout")
        if mark:
            # Made before its fields, so a field can refer back to it (a cycle).
            rec = _record(<int>layout, [])
            self.shared.append(rec)
            f = rec.f
            for i in range(n - 1):
                f.append(self.value(depth + 1))
            return rec
        f = PyList_New(<Py_ssize_t>(n - 1))
        for i in range(n - 1):
            x = self.value(depth + 1)
            Py_INCREF(x)
            PyList_SET_ITEM(f, <Py_ssize_t>i, x)
        return _record(<int>layout, f)

    cdef object tagged(self, uint64_t tag, int depth, bint mark):
        cdef int major
        cdef uint64_t n, i
        cdef list items
        if tag == TAG_LIST:
            n = self.head(&major)
            if major != 4:
                raise _Corrupt("a list tag on a non-array")
            n = self.count(n)
            items = []
            if mark:
                self.shared.append(items)
            for i in range(n):
                items.append(self.value(depth + 1))
            return items
        if tag == TAG_EMPTY_RECORD:
            n = self.head(&major)
            if major != 0 or n > 0x7FFFFFFF:
                raise _Corrupt("bad record layout")
            rec = _record(<int>n, None)
            if mark:
                self.shared.append(rec)
            return rec
        if tag == TAG_CONT:
            return self.continuation(depth, mark)
        if tag == 2 or tag == 3:
            n = self.head(&major)
            if major != 2 or mark:
                raise _Corrupt("bad bignum")
            big = int.from_bytes(self.byte_string(n), "big")
            return big if tag == 2 else -1 - big
        raise _Corrupt(f"unknown tag {tag}")

    cdef object continuation(self, int depth, bint mark):
        cdef int major
        cdef uint64_t n, i
        n = self.head(&major)
        if major != 4 or n != 6:
            raise _Corrupt("bad continuation")
        frames = self.plain(depth + 1)
        n = self.head(&major)
        if major != 2:
            raise _Corrupt("bad continuation register bank")
        ibank = _banks(self.byte_string(n), "q")
        n = self.head(&major)
        if major != 2:
            raise _Corrupt("bad continuation register bank")
        dbank = _banks(self.byte_string(n), "d")
        cont = Continuation(frames, ibank, dbank, [], None, None)
        if mark:
            self.shared.append(cont)
        n = self.head(&major)
        if major != 4:
            raise _Corrupt("bad continuation registers")
        for i in range(self.count(n)):
            cont.obank.append(self.value(depth + 1))
        cont.payload = self.value(depth + 1)
        n = self.head(&major)
        if major != 3:
            raise _Corrupt("bad continuation module id")
        cont.module_id = self.text(n)
        return cont

    cdef object plain(self, int depth):
        # Arrays of arrays of integers (a continuation's frames).
        cdef int major
        cdef uint64_t n, i, j, k
        n = self.count(self.head(&major))
        if major != 4:
            raise _Corrupt("bad continuation frames")
        out = []
        for i in range(n):
            k = self.count(self.head(&major))
            if major != 4:
                raise _Corrupt("bad continuation frame")
            frame = []
            for j in range(k):
                x = self.value(depth + 1)
                if type(x) is not int:
                    raise _Corrupt("bad continuation frame")
                frame.append(x)
            out.append(frame)
        return out


def decode(data, str fmt, int version):
    """The inverse of encode([fmt, version]): the root. The header is checked
    before anything else is decoded. Raises SnapshotError on anything that is
    not a well-formed encoding of this format and version, never a wrong value."""
    cdef _Reader r = _Reader()
    cdef int major
    cdef uint64_t n
    if not isinstance(data, bytes):
        data = bytes(data)
    r.data = data
    r.p = <const uint8_t*>PyBytes_AS_STRING(data)
    r.pos = 0
    r.end = PyBytes_GET_SIZE(data)
    r.shared = []
    r.texts = [None] * TEXT_SLOTS
    # Building a large graph with the cyclic collector on would run it over the
    # new objects again and again; nothing made here is garbage yet.
    paused = gc.isenabled()
    gc.disable()
    try:
        n = r.head(&major)
        if major != 4 or n != 3:
            raise SnapshotError(f"not an advm value snapshot of version {version}")
        if r.value(1) != fmt:
            raise SnapshotError(f"not an advm value snapshot")
        found = r.value(1)
        if found != version:
            raise SnapshotError(f"snapshot version {found!r}, this advm reads version {version}")
        root = r.value(1)
        if r.pos != r.end:
            raise _Corrupt("bytes after the value")
    except _Corrupt as e:
        raise SnapshotError(f"corrupt snapshot: {e} at byte {r.pos}") from None
    except (UnicodeDecodeError, OverflowError, MemoryError, TypeError) as e:
        raise SnapshotError(f"corrupt snapshot: {type(e).__name__}: {e} at byte {r.pos}") from None
    finally:
        if paused:
            gc.enable()
    return root


# ---------------------------------------------------------------- plain CBOR items


cdef Py_ssize_t _item_end(const uint8_t* p, Py_ssize_t pos, Py_ssize_t end, int depth):
    # Where the CBOR item starting at `pos` ends, or -1: truncated, nested
    # too deep, an indefinite length or a reserved head (none of which a
    # snapshot written by cbor2 holds).
    cdef uint8_t b, info
    cdef int major
    cdef uint64_t n, i
    cdef int width
    if depth > MAX_DEPTH or pos >= end:
        return -1
    b = p[pos]
    pos += 1
    major = b >> 5
    info = b & 31
    if info < 24:
        n = info
    elif info <= 27:
        width = 1 << (info - 24)
        if end - pos < width:
            return -1
        n = 0
        for i in range(<uint64_t>width):
            n = (n << 8) | p[pos + <Py_ssize_t>i]
        pos += width
    else:
        return -1
    if major == 0 or major == 1 or major == 7:
        return pos
    if major == 2 or major == 3:
        if n > <uint64_t>(end - pos):
            return -1
        return pos + <Py_ssize_t>n
    if major == 6:
        return _item_end(p, pos, end, depth + 1)
    if n > <uint64_t>(end - pos):  # every item takes a byte at least
        return -1
    if major == 5:
        n *= 2
    for i in range(n):
        pos = _item_end(p, pos, end, depth + 1)
        if pos < 0:
            return -1
    return pos


def item_end(data, Py_ssize_t pos):
    """Where the plain CBOR item of the bytes `data` starting at `pos` ends,
    without decoding it; -1 when it is not one complete item (truncated, an
    indefinite length, a reserved head)."""
    cdef bytes b = data if type(data) is bytes else bytes(data)
    if pos < 0:
        return -1
    return _item_end(<const uint8_t*>PyBytes_AS_STRING(b), pos, PyBytes_GET_SIZE(b), 0)
