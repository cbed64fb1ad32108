"""The rest of Adama's library: Math beyond arithmetic, String helpers,
Statistics, Principal, more of Date and TimeSpan, a Gaussian draw.

Each entry answers one library row of compiler/library.py by its key, like
`IMPLS` in vm/stdlib.py (which merges this table into its own): the value is
(function, wants_machine). Values are represented as there: dates
"YYYY-MM-DD", times "HH:MM", datetimes ISO-8601 with milliseconds and an
offset, timespans float seconds, principals "agent@authority", an empty maybe
None, lists Python lists.

Where Java's library (which Adama's is built on) defines an edge case, it is
followed: `Math.log(0)` is -infinity, `Math.asin(2)` NaN, `Math.sign(NaN)` 0,
`Statistics.median` of ints truncates. A result kind of int or long is
wrapped to 32 or 64 bits by the caller (vm/stdlib.py `_make`).
"""
from __future__ import annotations

import datetime as _dt
import math
import re
from zoneinfo import ZoneInfo

from .text import TEXT  # Adama's collaborative text (language.md 3.13.1)
from .docslots import authority_of

_INT_MIN, _INT_MAX = -(1 << 31), (1 << 31) - 1


def _too_big(what: str, n: int, bound: int, setting: str):
    """A result past the document's size bound (spec/bytecode.md 4.1): the
    machine reports it as the run-time error of that bound."""
    from .errors import SizeBoundError

    unit = "characters" if what == "string" else "items"
    raise SizeBoundError(f"{what} too long: {n} {unit}, past this document's bound of {bound} (@static {setting})")
_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1


def _wrap(x: int, bits: int) -> int:
    half = 1 << (bits - 1)
    return ((x + half) % (1 << bits)) - half


# ---------------------------------------------------------------- Math

def _real(f):
    """A one-argument function of doubles that answers NaN or an infinity
    where Python's math module raises (as Java's Math does)."""

    def g(x: float) -> float:
        try:
            return float(f(x))
        except OverflowError:
            return math.inf
        except ValueError:
            return math.nan
    return g


def _log(x: float, f=math.log) -> float:
    if math.isnan(x) or x < 0:
        return math.nan
    if x == 0:
        return -math.inf
    return f(x)


def _sinh(x: float) -> float:
    try:
        return math.sinh(x)
    except OverflowError:
        return math.copysign(math.inf, x)


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _expm1(x: float) -> float:
    try:
        return math.expm1(x)
    except OverflowError:
        return math.inf


def _log1p(x: float) -> float:
    if math.isnan(x) or x < -1:
        return math.nan
    if x == -1:
        return -math.inf
    return math.log1p(x)


def _signum(x: float) -> float:
    if math.isnan(x) or x == 0:
        return x
    return math.copysign(1.0, x)


def _sign(x) -> int:
    return 1 if x > 0 else (-1 if x < 0 else 0)


def _get_exponent(x: float) -> float:
    if not math.isfinite(x):
        return 1024.0
    if x == 0 or abs(x) < 2.2250738585072014e-308:  # zero and subnormals
        return -1023.0
    return float(math.frexp(x)[1] - 1)


def _ieee_remainder(x: float, y: float) -> float:
    try:
        return math.remainder(x, y)
    except ValueError:
        return math.nan


def _java_round(x: float) -> float:
    """Java's Math.round: the nearest whole number, halves toward +infinity."""
    return math.floor(x + 0.5)


def _with_precision(rounder):
    def g(x: float, precision: float) -> float:
        if precision == 0 or not math.isfinite(x) or not math.isfinite(precision):
            return x / precision if precision == 0 else x
        v = x / precision
        return float(rounder(v) * precision) if math.isfinite(v) else x
    return g


def _floor_div(x: int, y: int) -> int:
    return x // y  # ZeroDivisionError: a run-time error, as Java's ArithmeticException


def _floor_mod(x: int, y: int) -> int:
    return x % y


def _int_of(x: float):
    return int(x) if _INT_MIN < x < _INT_MAX else None  # NaN compares false: empty


def _long_of(x: float):
    return int(x) if -9.223372036854776e18 < x < 9.223372036854776e18 else None


def _clamp_int_of(x: float) -> int:
    if math.isnan(x):
        return 0
    return int(min(max(x, _INT_MIN), _INT_MAX))


def _valid(x: float):
    return x if math.isfinite(x) else None


def _near(a: float, b: float) -> bool:
    return abs(a - b) < 0.0000001


def _conj(m, z):
    # a fresh complex (a message record of two doubles, r then i: language.md 3.12)
    out = m.new_record(z.layout)
    out.f[0], out.f[1] = z.f[0], -z.f[1]
    return out


MATH = {
    "Math.near_cd/2": (lambda z, x: _near(z.f[0], x) and _near(z.f[1], 0.0), False),
    "Math.near_cc/2": (lambda a, b: _near(a.f[0], b.f[0]) and _near(a.f[1], b.f[1]), False),
    "Math.conj/1": (_conj, True),
    "Math.length/1": (lambda z: math.sqrt(z.f[0] * z.f[0] + z.f[1] * z.f[1]), False),
    "Math.abs_c/1": (lambda z: math.sqrt(z.f[0] * z.f[0] + z.f[1] * z.f[1]), False),
    "Math.sin/1": (_real(math.sin), False),
    "Math.cos/1": (_real(math.cos), False),
    "Math.tan/1": (_real(math.tan), False),
    "Math.asin/1": (_real(math.asin), False),
    "Math.acos/1": (_real(math.acos), False),
    "Math.atan/1": (_real(math.atan), False),
    "Math.atan2/2": (math.atan2, False),
    "Math.sinh/1": (_sinh, False),
    "Math.cosh/1": (_real(math.cosh), False),
    "Math.tanh/1": (_real(math.tanh), False),
    "Math.exp/1": (_exp, False),
    "Math.expm1/1": (_expm1, False),
    "Math.log/1": (_log, False),
    "Math.log10/1": (lambda x: _log(x, math.log10), False),
    "Math.log1p/1": (_log1p, False),
    "Math.cbrt/1": (math.cbrt, False),
    "Math.hypot/2": (math.hypot, False),
    "Math.IEEEremainder/2": (_ieee_remainder, False),
    "Math.copySign/2": (math.copysign, False),
    "Math.signum/1": (_signum, False),
    "Math.ulp/1": (math.ulp, False),
    "Math.getExponent/1": (_get_exponent, False),
    "Math.radians/1": (math.radians, False),
    "Math.degrees/1": (math.degrees, False),
    "Math.sign/1": (_sign, False),
    "Math.isInfinite/1": (math.isinf, False),
    "Math.isNaN/1": (math.isnan, False),
    "Math.valid/1": (_valid, False),
    "Math.floor/2": (_with_precision(math.floor), False),
    "Math.ceil/2": (_with_precision(math.ceil), False),
    "Math.round/2": (_with_precision(_java_round), False),
    "Math.near/2": (lambda a, b: abs(a - b) < 1e-7, False),
    "Math.xor/2": (lambda a, b: bool(a) != bool(b), False),
    "Math.floorDiv/2": (_floor_div, False),
    "Math.floorMod/2": (_floor_mod, False),
    "Math.intOf/1": (_int_of, False),
    "Math.longOf/1": (_long_of, False),
    "Math.clampIntOf/1": (_clamp_int_of, False),
}


def _gaussian(m) -> float:
    """A standard normal draw from two uniform draws of the document's stream
    (Box-Muller), so a replay draws the same value."""
    u1 = m.rng_double()
    u2 = m.rng_double()
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


# ---------------------------------------------------------------- String

_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_DOUBLE_TEXT = re.compile(r"\s*[+-]?(?:NaN|Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)\s*")
_ROMAN = (("M", "MM", "MMM"), ("C", "CC", "CCC", "CD", "D", "DC", "DCC", "DCCC", "CM"),
          ("X", "XX", "XXX", "XL", "L", "LX", "LXX", "LXXX", "XC"),
          ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX"))


def _int_text(s: str, lo: int, hi: int):
    if _INT_TEXT.fullmatch(s) is None:
        return None
    v = int(s)
    return v if lo <= v <= hi else None


def _double_text(s: str):
    if _DOUBLE_TEXT.fullmatch(s) is None:
        return None
    t = s.strip().replace("Infinity", "inf")
    return float(t)


def _to_roman(x: int) -> str:
    if x <= 0:
        return ""
    out = ["M" * (x // 1000)]
    x %= 1000
    for digits, unit in zip(_ROMAN[1:], (100, 10, 1)):
        d = x // unit
        if d:
            out.append(digits[d - 1])
        x %= unit
    return "".join(out)


def _compare(a: str, b: str) -> int:
    """Java's String.compareTo: the first differing characters' difference,
    else the difference of the lengths."""
    for x, y in zip(a, b):
        if x != y:
            return ord(x) - ord(y)
    return len(a) - len(b)


def _codepoint_at(s: str, i: int):
    return ord(s[i]) if 0 <= i < len(s) else None


def _replace_all(m, s: str, old: str, new: str) -> str:
    n = s.count(old) if old else len(s) + 1
    size = len(s) + n * (len(new) - len(old))
    bound = getattr(m, "max_string", None)
    if bound is not None and size > bound:
        _too_big("string", size, bound, "maximum_string_length")
    return s.replace(old, new)


STRING = {
    "String.join/2": (lambda xs, sep: sep.join(xs), False),
    "String.concat/1": ("".join, False),
    "String.replaceAll/3": (_replace_all, True),
    "String.removeAll/2": (lambda s, w: s.replace(w, "") if w else s, False),
    "String.codepointAt/2": (_codepoint_at, False),
    "String.codepoints/1": (lambda s: [ord(c) for c in s], False),
    "String.to_roman/1": (_to_roman, False),
    "String.compare/2": (_compare, False),
    "String.equality/2": (lambda a, b: a == b, False),
    "String.intOf/1": (lambda s: _int_text(s, _INT_MIN, _INT_MAX), False),
    "String.longOf/1": (lambda s: _int_text(s, _LONG_MIN, _LONG_MAX), False),
    "String.doubleOf/1": (_double_text, False),
}


# ---------------------------------------------------------------- Statistics

def _sum(bits):
    def g(xs):
        return _wrap(sum(xs), bits) if xs else None
    return g


def _sum_d(xs):
    return float(math.fsum(xs)) if xs and all(math.isfinite(x) for x in xs) else (
        float(sum(xs)) if xs else None)


def _average(xs):
    return float(sum(xs)) / len(xs) if xs else None


def _median(bits):
    def g(xs):
        if not xs:
            return None
        v = sorted(xs)
        i = len(v) // 2
        if len(v) % 2:
            return v[i]
        if bits == 0:
            return (v[i] + v[i - 1]) / 2.0
        s = _wrap(v[i] + v[i - 1], bits)
        return s // 2 if s >= 0 else -((-s) // 2)  # truncated, as Java's integer division
    return g


def _percentile(xs, percent: float):
    if not xs or not (0.0 <= percent <= 1.0):
        return None
    v = sorted(xs)
    return v[min(int(len(v) * percent), len(v) - 1)]


def _variance(xs):
    if not xs:
        return None
    mean = math.fsum(xs) / len(xs)
    return math.fsum((x - mean) ** 2 for x in xs) / len(xs)


def _range(bits):
    def g(xs):
        if not xs:
            return None
        spread = max(xs) - min(xs)
        return float(spread) if bits == 0 else _wrap(spread, bits)
    return g


STATISTICS = {
    "Statistics.sum_i/1": (_sum(32), False),
    "Statistics.sum_l/1": (_sum(64), False),
    "Statistics.sum_d/1": (_sum_d, False),
    "Statistics.average/1": (_average, False),
    "Statistics.minimum/1": (lambda xs: min(xs) if xs else None, False),
    "Statistics.maximum/1": (lambda xs: max(xs) if xs else None, False),
    "Statistics.median_i/1": (_median(32), False),
    "Statistics.median_l/1": (_median(64), False),
    "Statistics.median_d/1": (_median(0), False),
    "Statistics.percentile/2": (_percentile, False),
    "Statistics.variance/1": (_variance, False),
    "Statistics.stddev/1": (lambda xs: math.sqrt(_variance(xs)) if xs else None, False),
    "Statistics.range_i/1": (_range(32), False),
    "Statistics.range_l/1": (_range(64), False),
    "Statistics.range_d/1": (_range(0), False),
}


# ---------------------------------------------------------------- Dynamic

def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _dyn_text(v):
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if _is_number(v):
        return str(v)
    return None


def _dyn_int(v, lo, hi):
    return v if isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi else None


def _dyn_double(v):
    return float(v) if _is_number(v) else None


def _dyn_bool(v):
    if isinstance(v, bool):
        return v
    return {"true": True, "false": False}.get(v) if isinstance(v, str) else None


def _field(d, name):
    return d.get(name) if isinstance(d, dict) else None


def _field_int(d, name, lo, hi):
    v = _field(d, name)
    if isinstance(v, str):
        return _int_text(v, lo, hi)
    return _dyn_int(v, lo, hi)


def _field_double(d, name):
    v = _field(d, name)
    if isinstance(v, str):
        return _double_text(v)
    return _dyn_double(v)


def _field_text(d, name):
    v = _field(d, name)
    return v if isinstance(v, str) else (str(v) if _is_number(v) else None)


def _is_null(d, name):
    if isinstance(d, dict) and name in d:
        return d[name] is None
    return None


def _to_dynamic(text: str):
    import json

    try:
        value = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    except (ValueError, RecursionError):
        return None
    return value if _depth(value) <= 64 else None  # the nesting a message may have (spec/sessions.md 2)


def _depth(v, level: int = 0) -> int:
    if level > 64:
        return level
    if isinstance(v, dict):
        return max([_depth(x, level + 1) for x in v.values()], default=level + 1)
    if isinstance(v, list):
        return max([_depth(x, level + 1) for x in v], default=level + 1)
    return level


DYNAMIC = {
    "Dynamic.str/1": (_dyn_text, False),
    "Dynamic.i/1": (lambda v: _dyn_int(v, _INT_MIN, _INT_MAX), False),
    "Dynamic.l/1": (lambda v: _dyn_int(v, _LONG_MIN, _LONG_MAX), False),
    "Dynamic.d/1": (_dyn_double, False),
    "Dynamic.b/1": (_dyn_bool, False),
    "Dynamic.str/2": (_field_text, False),
    "Dynamic.i/2": (lambda d, f: _field_int(d, f, _INT_MIN, _INT_MAX), False),
    "Dynamic.l/2": (lambda d, f: _field_int(d, f, _LONG_MIN, _LONG_MAX), False),
    "Dynamic.d/2": (_field_double, False),
    "Dynamic.b/2": (lambda d, f: _dyn_bool(_field(d, f)), False),
    "Dynamic.is_null/2": (_is_null, False),
    "Dynamic.dyn/1": (lambda v: v, False),
    "Dynamic.dyn_b/1": (bool, False),
    "Dynamic.toDynamic/1": (_to_dynamic, False),
}


# ---------------------------------------------------------------- Principal

PRINCIPAL = {
    "Principal.isAnonymous/1": (lambda p: authority_of(p) == "anonymous", False),
    "Principal.isAdamaDeveloper/1": (lambda p: authority_of(p) == "adama", False),
    "Principal.isOverlord/1": (lambda p: authority_of(p) == "overlord", False),
    "Principal.isAdamaHost/1": (lambda p: authority_of(p) == "region", False),
    "Principal.fromAuthority/2": (lambda p, a: authority_of(p) == a, False),
    "Principal.agent/1": (lambda p: p.rpartition("@")[0] if "@" in p else p, False),
    "Principal.authority/1": (authority_of, False),
}


# ---------------------------------------------------------------- Date and TimeSpan

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")
_ONE_DAY = _dt.timedelta(days=1)


def _date(s: str) -> _dt.date:
    return _dt.date.fromisoformat(s)


def _datetime(s: str) -> _dt.datetime:
    d = _dt.datetime.fromisoformat(s)
    return d if d.tzinfo is not None else d.replace(tzinfo=_dt.timezone.utc)


def _zone(name: str):
    try:
        return ZoneInfo(name)
    except Exception:
        return None


def _days(m, first: _dt.date, count: int, keep=None) -> list:
    """`count` consecutive dates from `first` (those `keep` accepts), within the
    calendar (years 1-9999) and the document's list bound."""
    bound = getattr(m, "max_items", 1_000_000)
    out = []
    at = first
    for _ in range(max(count, 0)):
        if keep is None or keep(at):
            if len(out) >= bound:
                _too_big("list", len(out) + 1, bound, "maximum_collection_size")
            out.append(at.isoformat())
        try:
            at += _ONE_DAY
        except OverflowError:
            break
    return out


def _back(d: _dt.date, n: int) -> _dt.date:
    try:
        return d - _dt.timedelta(days=n)
    except OverflowError:
        return _dt.date.min


def _calendar_view(m, s: str) -> list:
    day = _date(s)
    first = day.replace(day=1)
    start = _back(first, first.isoweekday() % 7)
    out = []
    at = start
    while len(out) % 7 != 0 or at < first or at.month == day.month and at.year == day.year:
        out.append(at.isoformat())
        try:
            at += _ONE_DAY
        except OverflowError:
            break
    return out


def _week_view(m, s: str) -> list:
    day = _date(s)
    return _days(m, _back(day, day.isoweekday() % 7), 7)


def _neighbor_view(m, s: str, n: int) -> list:
    if n < 0:
        return []
    day = _date(s)
    first = _back(day, n)
    return _days(m, first, (day - first).days + n + 1)


def _pattern_of(*flags) -> int:
    return sum(1 << i for i, f in enumerate(flags) if f)


def _in_pattern(d: _dt.date, pattern: int) -> bool:
    return bool((1 << (d.isoweekday() - 1)) & pattern)


def _inclusive_range(m, a: str, b: str, pattern: int | None = None) -> list:
    first, last = _date(a), _date(b)
    keep = None if pattern is None else (lambda d: _in_pattern(d, pattern))
    return _days(m, first, (last - first).days + 1, keep)


def _period_months(a: str, b: str) -> int:
    """Java's Period.between(a, b) in whole months: the calendar months between,
    less one when the day of the month has not been reached."""
    x, y = _date(a), _date(b)
    total = (y.year * 12 + y.month) - (x.year * 12 + x.month)
    days = y.day - x.day
    if total > 0 and days < 0:
        total -= 1
    elif total < 0 and days > 0:
        total += 1
    return total


def _period_years(a: str, b: str) -> float:
    total = _period_months(a, b)
    years = int(total / 12)
    return years + (total - years * 12) / 12.0


def _construct(d: str, t: str, seconds: float, zone: str):
    z = _zone(zone)
    if z is None or not math.isfinite(seconds) or not (0 <= seconds < 60):
        return None
    hh, mm = (int(p) for p in t.split(":"))
    whole = int(seconds)
    micros = int(round((seconds - whole) * 1_000_000))
    try:
        v = _dt.datetime.combine(_date(d), _dt.time(hh, mm, whole, min(micros, 999_999)), z)
    except ValueError:
        return None
    return v.isoformat(timespec="milliseconds")


def _adjust_zone(s: str, zone: str):
    z = _zone(zone)
    if z is None:
        return None
    return _datetime(s).astimezone(z).isoformat(timespec="milliseconds")


def _minutes(t: str) -> int:
    h, m = t.split(":")
    return int(h) * 60 + int(m)


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _extend_within_day(t: str, span: float) -> str:
    end = int(_minutes(t) + span / 60.0) if math.isfinite(span) else (1439 if span > 0 else 0)
    return _clock(min(max(end, 0), 1439))


def _cyclic_add(t: str, span: float) -> str:
    if not math.isfinite(span):
        return t
    return _clock(int(_minutes(t) + span / 60.0) % 1440)


def _overlaps(a: str, b: str, c: str, d: str) -> bool:
    a1, b1 = sorted((_minutes(a), _minutes(b)))
    c1, d1 = sorted((_minutes(c), _minutes(d)))
    return a1 <= d1 and c1 <= b1


_PATTERN = re.compile(r"'[^']*'|''|([A-Za-z])\1*|[^A-Za-z']+")


def _format(s: str, pattern: str, lang: str = "en"):
    """Date.format: the letters of Java's DateTimeFormatter that calendars use
    (y M d E H h m s S a); anything else, or a pattern that does not parse,
    gives empty."""
    d = _datetime(s)
    out = []
    pos = 0
    for m in _PATTERN.finditer(pattern):
        if m.start() != pos:
            return None
        pos = m.end()
        tok = m.group(0)
        if tok == "''":
            out.append("'")
        elif tok.startswith("'"):
            out.append(tok[1:-1])
        elif m.group(1) is None:
            out.append(tok)
        else:
            c, n = tok[0], len(tok)
            if c == "y":
                out.append(f"{d.year % 100:02d}" if n == 2 else f"{d.year:0{n}d}")
            elif c == "M":
                out.append(_MONTHS[d.month - 1] if n >= 4 else _MONTHS[d.month - 1][:3] if n == 3
                           else f"{d.month:0{n}d}")
            elif c == "d":
                out.append(f"{d.day:0{n}d}")
            elif c == "E":
                out.append(_DAYS[d.weekday()] if n >= 4 else _DAYS[d.weekday()][:3])
            elif c == "H":
                out.append(f"{d.hour:0{n}d}")
            elif c == "h":
                out.append(f"{(d.hour % 12) or 12:0{n}d}")
            elif c == "m":
                out.append(f"{d.minute:0{n}d}")
            elif c == "s":
                out.append(f"{d.second:0{n}d}")
            elif c == "S":
                out.append(f"{d.microsecond:06d}"[:n].ljust(n, "0"))
            elif c == "a":
                out.append("AM" if d.hour < 12 else "PM")
            else:
                return None
    return "".join(out) if pos == len(pattern) else None


DATE = {
    "Date.format/2": (_format, False),
    "Date.format/3": (_format, False),
    "Time.toInt/1": (_minutes, False),
    "Time.extendWithinDay/2": (_extend_within_day, False),
    "Time.cyclicAdd/2": (_cyclic_add, False),
    "Time.overlaps/4": (_overlaps, False),
    "Date.construct/4": (_construct, False),
    "Date.dayOfWeekEnglish/1": (lambda s: _DAYS[_date(s).weekday()], False),
    "Date.monthNameEnglish/1": (lambda s: _MONTHS[_date(s).month - 1], False),
    "Date.calendarViewOf/1": (_calendar_view, True),
    "Date.weekViewOf/1": (_week_view, True),
    "Date.neighborViewOf/2": (_neighbor_view, True),
    "Date.patternOf/7": (_pattern_of, False),
    "Date.satisfiesWeeklyPattern/2": (lambda s, p: _in_pattern(_date(s), p), False),
    "Date.inclusiveRange/2": (_inclusive_range, True),
    "Date.inclusiveRangeSatisfiesWeeklyPattern/3": (_inclusive_range, True),
    "Date.periodYearsFractional/2": (_period_years, False),
    "Date.periodMonths/2": (_period_months, False),
    "Date.adjustTimeZone/2": (_adjust_zone, False),
    "TimeSpan.add/2": (lambda a, b: float(a) + float(b), False),
    "TimeSpan.multiply/2": (lambda a, x: float(a) * x, False),
    "TimeSpan.seconds/1": (float, False),
    "TimeSpan.minutes/1": (lambda s: s / 60.0, False),
    "TimeSpan.hours/1": (lambda s: s / 3600.0, False),
}

# ---------------------------------------------------------------- maps

def _map_insert(m, d: dict, other: dict) -> dict:
    """`d.insert(other)`: every entry of `other` put into `d` (copied, as any
    value stored into the document is), undone if the transaction fails."""
    from .stdlib import copy_value

    if not other:
        return d
    added = sum(1 for k in other if k not in d)
    bound = getattr(m, "max_items", None)
    if bound is not None and len(d) + added > bound:
        _too_big("map", len(d) + added, bound, "maximum_collection_size")
    before = dict(d)

    def restore():
        d.clear()
        d.update(before)

    m.log_undo((restore,))
    for k, v in list(other.items()):
        d[k] = copy_value(m, v)
    return d


# ---------------------------------------------------------------- enums

def _enum_index(table: list, v: int) -> int:
    for i, (value, _) in enumerate(table):
        if value == v:
            return i
    return -1


def _enum_name(table: list, v: int) -> str:
    i = _enum_index(table, v)
    return table[i][1] if i >= 0 else ""


def _enum_step(step: int):
    """The value after (or before) v in declaration order, wrapping around."""
    def g(table: list, v: int) -> int:
        i = _enum_index(table, v)
        if not table:
            return v
        return table[(i + step) % len(table)][0] if i >= 0 else table[0][0]
    return g


ENUMS = {
    "enum.to_string": (_enum_name, False),
    "enum.next": (_enum_step(1), False),
    "enum.prev": (_enum_step(-1), False),
}

# ---------------------------------------------------------------- query clauses

def _unique(xs: list, last: int, slot: int) -> list:
    """`unique [first|last key]`: one item per distinct value (of the key field
    of a record, when slot >= 0), the first or the last of each, in the order
    the kept items come."""
    seen: dict = {}
    for i, x in enumerate(xs):
        k = x.f[slot] if slot >= 0 else x
        if k not in seen or last:
            seen[k] = i
    keep = sorted(seen.values())
    return [xs[i] for i in keep]


def _group(xs: list, slot: int) -> list:
    """[[key, rows], ...] grouped by a field, groups in order of their first row."""
    groups: dict = {}
    for x in xs:
        groups.setdefault(x.f[slot], []).append(x)
    return [[k, v] for k, v in groups.items()]


def _rank(xs: list, scores: list, threshold: float) -> list:
    """`rank x: score threshold t`: the items scoring at least t, highest first;
    equal scores keep the order the items came in (a stable sort)."""
    kept = [(s, i) for i, s in enumerate(scores) if s >= threshold]
    kept.sort(key=lambda p: -p[0])
    return [xs[i] for _, i in kept]


def _lift(f):
    """Arithmetic over maybe<double>: empty when either side is."""
    def g(a, b):
        return None if a is None or b is None else f(float(a), float(b))
    return g


ARITH = {
    "arith.lift+": (_lift(lambda a, b: a + b), False),
    "arith.lift-": (_lift(lambda a, b: a - b), False),
    "arith.lift*": (_lift(lambda a, b: a * b), False),
    "arith.lift/": (_lift(lambda a, b: a / b if b != 0 else None), False),
}

def _order_dyn(xs: list, slots: dict, spec: str) -> list:
    """`order_dyn "name,-score"`: keys separated by commas, each optionally
    prefixed `+` (ascending, the default) or `-` (descending); names that are
    no orderable field are skipped (as Adama's comparator ignores them)."""
    keys = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        desc = part[0] == "-"
        if part[0] in "+-":
            part = part[1:].strip()
        if part in slots:
            keys.append((slots[part], desc))
    out = list(xs)
    for slot, desc in reversed(keys):
        out.sort(key=lambda r, s=slot: r.f[s], reverse=desc)
    return out


QUERIES = {
    "sequence.skip/1": (lambda xs, n: list(xs[max(n, 0):]), False),
    "sequence.drop/1": (lambda xs, n: list(xs[:max(len(xs) - max(n, 0), 0)]), False),
    "seq.order_dyn": (_order_dyn, False),
    "seq.unique": (_unique, False),
    "seq.group": (_group, False),
    "seq.rank": (_rank, False),
    "seq.group_map": (lambda pairs: {k: v for k, v in pairs}, False),
}

MAPS = {
    "map.insert/1": (_map_insert, True),
    "map.pairs": (lambda d: [[k, v] for k, v in d.items()], False),
    "pair.key": (lambda p: p[0], False),
    "pair.value": (lambda p: p[1], False),
}

def _deref(v, key):
    if type(key) is str:
        return v.get(key) if isinstance(v, dict) else None
    return v[key] if isinstance(v, list) and 0 <= key < len(v) else None


def _json_int(v):
    if type(v) is int and -(1 << 31) <= v < (1 << 31):
        return v
    if type(v) is float and v.is_integer() and -(1 << 31) <= v < (1 << 31):
        return int(v)
    return None


# Adama's json values (language.md 3.13): what the value is, by kind; null when it is not
JSON = {
    "json.to_dynamic/0": (lambda v: v, False),
    "json.deref/1": (_deref, False),
    "json.to_b/0": (lambda v: v if type(v) is bool else None, False),
    "json.to_i/0": (_json_int, False),
    "json.to_s/0": (lambda v: v if type(v) is str else None, False),
}

def _asset(field, default):
    return lambda v: v.get(field, default) if isinstance(v, dict) else default


# Assets (language.md 4.29): the facts of an upload, held as a dict; null is no asset
ASSET = {
    "asset.id/0": (_asset("id", ""), False),
    "asset.name/0": (_asset("name", ""), False),
    "asset.type/0": (_asset("type", ""), False),
    "asset.size/0": (_asset("size", 0), False),
    "asset.md5/0": (_asset("md5", ""), False),
    "asset.sha384/0": (_asset("sha384", ""), False),
    "asset.valid/0": (lambda v: isinstance(v, dict) and bool(v.get("id")), False),
}

MORE: dict[str, tuple] = {**DYNAMIC, **JSON, **ASSET, **TEXT, **MAPS, **ENUMS, **QUERIES, **ARITH, **MATH, **STRING, **STATISTICS, **PRINCIPAL, **DATE,
                          "Random.getDoubleGaussian/0": (_gaussian, True)}
