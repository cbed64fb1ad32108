# Time.datetime() for documents in UTC, formatted in C. vm/stdlib.py calls it
# only where it gives exactly what datetime.fromtimestamp(ms / 1000.0, UTC)
# .isoformat(timespec="milliseconds") gives (0 <= ms < UTC_ISO_MS_END): the
# library's strings are document state, and replay compares them.

# Below 2**32 seconds a double ms / 1000.0 is within half a microsecond of
# the true value, so datetime's rounding to microseconds lands on the exact
# millisecond and truncating to milliseconds keeps it; beyond, the float
# route can print the millisecond before.
UTC_ISO_MS_END = (1 << 32) * 1000


cdef inline void _digits(char* buf, int at, int64_t v, int width):
    # `width` decimal digits of 0 <= v < 10**width, zero-padded
    cdef int i
    for i in range(width - 1, -1, -1):
        buf[at + i] = <char>(48 + v % 10)
        v //= 10


def utc_iso_ms(int64_t ms):
    """"YYYY-MM-DDTHH:MM:SS.mmm+00:00" for `ms` since the epoch (0 <= ms <
    UTC_ISO_MS_END)."""
    if ms < 0 or ms >= UTC_ISO_MS_END:
        raise ValueError("utc_iso_ms is for 0 <= ms < 2**32 s")
    cdef int64_t days = ms // 86400000
    cdef int64_t rem = ms - days * 86400000
    # civil date from days since 1970-01-01 (H. Hinnant's algorithm, days >= 0)
    cdef int64_t z = days + 719468
    cdef int64_t era = z // 146097
    cdef int64_t doe = z - era * 146097
    cdef int64_t yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    cdef int64_t y = yoe + era * 400
    cdef int64_t doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    cdef int64_t mp = (5 * doy + 2) // 153
    cdef int64_t d = doy - (153 * mp + 2) // 5 + 1
    cdef int64_t mo = mp + 3 if mp < 10 else mp - 9
    if mo <= 2:
        y += 1
    cdef char buf[29]
    _digits(buf, 0, y, 4)
    buf[4] = c'-'
    _digits(buf, 5, mo, 2)
    buf[7] = c'-'
    _digits(buf, 8, d, 2)
    buf[10] = c'T'
    _digits(buf, 11, rem // 3600000, 2)
    buf[13] = c':'
    _digits(buf, 14, rem // 60000 % 60, 2)
    buf[16] = c':'
    _digits(buf, 17, rem // 1000 % 60, 2)
    buf[19] = c'.'
    _digits(buf, 20, rem % 1000, 3)
    memcpy(buf + 23, b"+00:00", 6)
    return buf[:29].decode("ascii")

