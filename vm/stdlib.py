"""The standard library and runtime helpers, as host functions the machine calls.

Code generation imports each library row (compiler/library.py) under the name

    <row key>(<parameter kinds>)<result kind>        e.g.  Math.abs/1(d)d, string.indexOf/2(ooi)i

(a generic row like `maybe<T>.getOrDefaultTo` is imported once per kind of T it
is used with), and runtime helpers (tables, logged writes, conversions) under
plain names such as `table.insert(oo)i`. `host_table()` answers any such name:
it finds the implementation by the part before the parenthesis and wraps the
result to the declared kind (ints wrap to 32 or 64 bits).

Runtime representation of values in the object bank (what these functions
receive and return): strings are `str`; principals are `str` "agent@authority"
(vm/docslots.py); dates are "YYYY-MM-DD", times "HH:MM", datetimes ISO-8601
with milliseconds and offset; labels are state names ("" for none); an empty
maybe is None and a full one is its value; lists and arrays are lists, maps are
dicts, records, messages and tables are machine Records. Ints, longs, bools and
enums are Python ints (bools may be bool), doubles and timespans floats.

Determinism: Time reads only the event's timestamp in the document's hidden
slot NOW (set by the runtime per event); Random draws from the machine's PRNG.
"""
from __future__ import annotations

import calendar
import datetime as _dt
import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from zoneinfo import ZoneInfo

from . import table as _table
from ._machine import Record, project
from .docslots import (ANONYMOUS_AUTHORITY, DEBUG, DESTROY, DETACHED, DEVELOPER_AUTHORITY, KEY, NOW,
                       OWNER_FIELD, SEQ, SPACE, ZONE, agent_of, authority_of)
from .errors import SizeBoundError
from .host import ASK, SERVICE, VIEW_GOTO, VIEW_MERGE, HostFunction, RuntimeBound, core_library
from .stdlib_more import MORE


def wrap32(x: int) -> int:
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x >= (1 << 31) else x


def wrap64(x: int) -> int:
    x &= 0xFFFFFFFFFFFFFFFF
    return x - (1 << 64) if x >= (1 << 63) else x


# ---------------------------------------------------------------- Math

def _round_half_away(x: float) -> float:
    if not math.isfinite(x):
        return x
    return math.copysign(math.floor(abs(x) + 0.5), x)


def _to_int(x) -> int:
    if isinstance(x, float):
        return wrap32(int(x)) if math.isfinite(x) else 0
    return wrap32(x)


def _to_long(x: float) -> int:
    return wrap64(int(x)) if math.isfinite(x) else 0


def _round_to(x: float, digits: int) -> float:
    if not math.isfinite(x):
        return x
    scale = 10.0 ** digits
    return _round_half_away(x * scale) / scale


def _pow(x: float, y: float) -> float:
    try:
        return float(math.pow(x, y))
    except (OverflowError, ValueError):
        return math.inf if x > 0 else math.nan


# ---------------------------------------------------------------- Time and Date

_ZONES: dict = {}  # zone name -> ZoneInfo (UTC for a name that is not a zone)


def _zone(m) -> ZoneInfo:
    name = m.doc.f[ZONE]
    zone = _ZONES.get(name)
    if zone is None:
        # Looked up once per name: every Time.* call of every event asks.
        try:
            zone = ZoneInfo(name or "UTC")
        except Exception:
            zone = ZoneInfo("UTC")
        if len(_ZONES) < 1024 and type(name) is str:
            _ZONES[name] = zone
    return zone


def _now(m) -> _dt.datetime:
    f = m.doc.f
    zone = _ZONES.get(f[ZONE])
    return _dt.datetime.fromtimestamp(f[NOW] / 1000.0, zone if zone is not None else _zone(m))




# Time.datetime() of a UTC document, written from the clock's milliseconds:
# the text _now(m).isoformat(timespec="milliseconds") gives, without making a
# datetime (chat-like handlers stamp every line with it, and replay runs them
# all again). The date part is made once a day: (day since the epoch, text).
_UTC_DAY = (None, "")
_EPOCH_ORDINAL = _dt.date(1970, 1, 1).toordinal()
# Below 2**32 s, ms / 1000.0 is within half a microsecond of the exact time, so
# fromtimestamp's rounding gives back the same millisecond: the two agree.
_UTC_FAST_UNTIL = 2**32 * 1000


def _datetime_now(m) -> str:
    # Time.datetime() in one call: chat-like handlers stamp every line with it.
    global _UTC_DAY
    f = m.doc.f
    ms = f[NOW]
    if type(ms) is int and 0 <= ms < _UTC_FAST_UNTIL and f[ZONE] == "UTC":
        day, rest = divmod(ms, 86_400_000)
        known = _UTC_DAY  # one tuple: another thread may replace it, never half of it
        if known[0] != day:
            known = _UTC_DAY = (day, _dt.date.fromordinal(_EPOCH_ORDINAL + day).isoformat() + "T")
        sec, milli = divmod(rest, 1000)
        hour, sec = divmod(sec, 3600)
        minute, sec = divmod(sec, 60)
        return f"{known[1]}{hour:02d}:{minute:02d}:{sec:02d}.{milli:03d}+00:00"
    return _now(m).isoformat(timespec="milliseconds")


def fmt_datetime(d: _dt.datetime) -> str:
    return d.isoformat(timespec="milliseconds")


def fmt_time(t) -> str:
    return f"{t.hour:02d}:{t.minute:02d}"


def parse_datetime(s: str) -> _dt.datetime:
    d = _dt.datetime.fromisoformat(s)
    return d if d.tzinfo is not None else d.replace(tzinfo=_dt.timezone.utc)


def parse_date(s: str) -> _dt.date:
    return _dt.date.fromisoformat(s)


def _set_zone(m, name: str) -> bool:
    try:
        ZoneInfo(name)
    except Exception:
        return False
    m.write_field(m.doc, ZONE, name)
    return True


def _time_make(h: int, mi: int):
    return f"{h:02d}:{mi:02d}" if 0 <= h <= 23 and 0 <= mi <= 59 else None


def _date_make(y: int, mo: int, d: int):
    try:
        return _dt.date(y, mo, d).isoformat()
    except ValueError:
        return None


def _offset_month(s: str, n: int) -> str:
    d = parse_date(s)
    months = d.year * 12 + (d.month - 1) + n
    y, mo = divmod(months, 12)
    y = min(max(y, 1), 9999)
    day = min(d.day, calendar.monthrange(y, mo + 1)[1])
    return _dt.date(y, mo + 1, day).isoformat()


def _offset_day(s: str, n: int) -> str:
    try:
        return (parse_date(s) + _dt.timedelta(days=n)).isoformat()
    except OverflowError:
        return s


def _between(a: str, b: str) -> float:
    return (parse_datetime(b) - parse_datetime(a)).total_seconds()


def _shift(s: str, seconds: float) -> str:
    return fmt_datetime(parse_datetime(s) + _dt.timedelta(seconds=seconds))


# ---------------------------------------------------------------- strings

def _split(s: str, sep: str) -> list:
    return list(s) if sep == "" else s.split(sep)


def _index_of(s: str, word: str, start: int = 0) -> int:
    return s.find(word, max(start, 0)) if start <= len(s) else -1


def _mid(s: str, start: int, length: int):
    if start < 0 or length < 0 or start > len(s):
        return None
    return s[start:start + length]


def _left(s: str, n: int):
    return s[:n] if n >= 0 else None


def _right(s: str, n: int):
    if n < 0:
        return None
    return s[len(s) - n:] if n <= len(s) else s


def _substr(s: str, start: int, end: int):
    if start < 0 or end < start or end > len(s):
        return None
    return s[start:end]


def _char_of(code: int) -> str:
    # Half of a UTF-16 surrogate pair is no character (nor storable: UTF-8
    # cannot hold it), like a number past U+10FFFF.
    if 0xD800 <= code <= 0xDFFF:
        return ""
    try:
        return chr(code)
    except (ValueError, OverflowError):
        return ""


# ---------------------------------------------------------------- sequences

def _sum(xs: list, kind: str):
    if kind == "d":
        return float(math.fsum(xs)) if all(math.isfinite(x) for x in xs) else float(sum(xs))
    total = sum(xs)  # ints and bools: exact, and C's speed
    if type(total) is not int:
        total = sum(int(x) for x in xs)
    return wrap64(total) if kind == "l" else wrap32(total)


def _average(xs: list):
    if not xs:
        return None
    return float(sum(xs)) / len(xs)


def _min(xs: list):
    return min(xs) if xs else None


def _max(xs: list):
    return max(xs) if xs else None


def order_by(xs: list, keys: list) -> list:
    """Stable sort by [[slot, descending(, insensitive)], ...], first key most
    significant; an insensitive key compares strings by their lower case."""
    out = list(xs)
    for key in reversed(keys):
        slot, desc = key[0], key[1]
        if len(key) > 2 and key[2]:
            out.sort(key=lambda r, s=slot: r.f[s].lower(), reverse=bool(desc))
        else:
            out.sort(key=lambda r, s=slot: r.f[s], reverse=bool(desc))
    return out


def limit(xs: list, n: int) -> list:
    return xs[:n] if n > 0 else []


def offset(xs: list, n: int) -> list:
    return xs[n:] if n > 0 else list(xs)


def shuffle(m, xs: list) -> list:
    """Fisher-Yates with the document's PRNG, so replays draw the same order."""
    out = list(xs)
    for i in range(len(out) - 1, 0, -1):
        j = m.rng_below(i + 1)
        out[i], out[j] = out[j], out[i]
    return out


# ---------------------------------------------------------------- maps and values

def _map_clear(m, d: dict) -> None:
    if d:
        items = list(d.items())

        def restore():
            d.clear()
            d.update(items)

        m.log_undo((restore,))
        d.clear()


def values_equal(a, b) -> bool:
    """Structural equality (messages field by field, maps, lists); doubles approximately."""
    if a is b:
        return True
    ta, tb = type(a), type(b)
    if ta is float or tb is float:
        if a is None or b is None or isinstance(a, (str, list, dict)) or isinstance(b, (str, list, dict)):
            return False
        x, y = float(a), float(b)
        if x == y:
            return True
        if not (math.isfinite(x) and math.isfinite(y)):
            return False
        return abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y))
    if ta is list and tb is list:
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    if ta is dict and tb is dict:
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    if hasattr(a, "layout") and hasattr(b, "layout"):
        return a.layout == b.layout and len(a.f) == len(b.f) and all(
            values_equal(x, y) for x, y in zip(a.f, b.f))
    return a == b


def copy_value(m, v):
    """A deep copy for storing a value into document state: records and
    messages are values there, never aliases of a row or of another field.
    A copied row is detached (its owner slot reset); tables are not copied."""
    layouts = m.module.records

    def cp(x):
        t = type(x)
        if t is list:
            return [cp(y) for y in x]
        if t is dict:
            return {k: cp(y) for k, y in x.items()}
        if t is Record:
            lay = layouts[x.layout]
            if lay.name == _table.TABLE_LAYOUT_NAME:
                return x
            f = list(x.f)
            n = len(f) - 1 if lay.fields and lay.fields[-1] == OWNER_FIELD else len(f)
            for i in range(n):
                if type(f[i]) in (list, dict, Record):
                    f[i] = cp(f[i])
            if n < len(f):
                f[n] = DETACHED
            return Record(x.layout, f)
        return x

    return cp(v)


# Bounds of @debug (spec/language.md 6.12): lines one transaction keeps (a
# host bounds an input's lines the same way), and UTF-8 bytes one line keeps.
DEBUG_MAX_LINES = 200
DEBUG_MAX_LINE_BYTES = 4096
DEBUG_LINES_DROPPED = f"(@debug: more than {DEBUG_MAX_LINES} lines; the rest were dropped)"
_PLACEHOLDER = re.compile(r"\{(\d+)\}")  # as compiler/check_expr.py's


def debug_line(line: str) -> str:
    """`line` cut to DEBUG_MAX_LINE_BYTES of UTF-8 (at a character), marked with a trailing '...'."""
    if len(line) * 4 <= DEBUG_MAX_LINE_BYTES:
        return line
    raw = line.encode("utf-8", "surrogatepass")
    if len(raw) <= DEBUG_MAX_LINE_BYTES:
        return line
    return raw[:DEBUG_MAX_LINE_BYTES - 3].decode("utf-8", "ignore") + "..."


def _debug_text(v) -> str:
    """A @debug piece that is not text already: an argument of a type string
    concatenation does not take (a maybe, a list, a record...)."""
    if v is None:
        return ""  # an empty maybe
    if v is True or v is False:
        return "true" if v else "false"
    if type(v) is float:
        return "NaN" if v != v else "Infinity" if v == float("inf") else "-Infinity" \
            if v == float("-inf") else repr(v)
    if type(v) is int:
        return str(v)
    return f"<{type(v).__name__.lower()}>"


@functools.lru_cache(maxsize=4096)
def _debug_template(fmt: str) -> tuple:
    """A @debug format split into its literal text and argument indexes."""
    out, pos = [], 0
    for m in _PLACEHOLDER.finditer(fmt):
        if m.start() > pos:
            out.append(fmt[pos:m.start()])
        out.append(int(m.group(1)))
        pos = m.end()
    if pos < len(fmt):
        out.append(fmt[pos:])
    return tuple(out)


def _debug_line(m, fmt: str, *texts) -> None:
    """`@debug(fmt, ...)` while someone listens: the line made from the
    format and the arguments' texts (the compiler checked every {N})."""
    if m.doc is None or m.doc.f[DEBUG] is None:
        return
    parts = []
    size = 0
    for piece in _debug_template(fmt):
        if type(piece) is int:
            piece = texts[piece]
            if type(piece) is not str:
                piece = _debug_text(piece)
        parts.append(piece)
        size += len(piece)
        if size > DEBUG_MAX_LINE_BYTES:  # cut anyway
            break
    _debug(m, "".join(parts))


def _debug(m, line: str) -> None:
    sink = m.doc.f[DEBUG] if m.doc is not None else None
    if sink is None:  # nobody listens
        return
    if type(line) is not str:
        line = _debug_text(line)
    n = len(sink)
    if n < DEBUG_MAX_LINES:
        sink.append(debug_line(line))
    elif n == DEBUG_MAX_LINES:
        sink.append(DEBUG_LINES_DROPPED)


def _destroy(m) -> None:
    m.write_field(m.doc, DESTROY, True)


def _multiply(m, s: str, n: int) -> str:
    """`s` repeated `n` times, within the document's string bound (checked
    before the string is made: 'x'.multiply(2^30) allocates nothing)."""
    n = max(n, 0)
    if len(s) * n > m.max_string:
        raise SizeBoundError(f"string too long: {len(s) * n} characters, past this document's "
                             f"bound of {m.max_string} (@static maximum_string_length)")
    return s * n


def ask(spec, who: str, options, n: int) -> dict:
    """The future a channel method makes: what to ask whom; `await` suspends on it."""
    channel, kind = spec
    return {"channel": channel, "kind": kind, "who": who,
            "options": list(options) if options is not None else None, "limit": n}


def service(spec, who: str, msg) -> dict:
    """A service call without a runtime (tools that run code alone): a result
    that never arrives. The runtime binds its own (runtime/services.py)."""
    return {"state": 0, "code": 0, "message": "", "value": None}


# ---------------------------------------------------------------- the table

_core = core_library()

# name -> (function, wants_machine)
def dynamic_text(value) -> str:
    """A dynamic's text in string concatenation (spec/language.md 5.6): its
    JSON, compact (no spaces), non-ASCII characters as they are."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


IMPLS: dict[str, tuple] = {
    "Math.abs/1": (abs, False),
    "Math.sqrt/1": (lambda x: math.sqrt(x) if x >= 0 else math.nan, False),
    "Math.pow/2": (_pow, False),
    "Math.floor/1": (lambda x: float(math.floor(x)) if math.isfinite(x) else x, False),
    "Math.ceil/1": (lambda x: float(math.ceil(x)) if math.isfinite(x) else x, False),
    "Math.round/1": (_round_half_away, False),
    "Math.min/2": (min, False),
    "Math.max/2": (max, False),
    "Math.toInt/1": (_to_int, False),
    "Math.toLong/1": (_to_long, False),
    "Random.genInt/0": (_core["Random.genInt"].fn, True),
    "Random.genBoundInt/1": (_core["Random.genBoundInt"].fn, True),
    "Random.genLong/0": (lambda m: wrap64(m.rng_next()), True),
    "Random.genDouble/0": (_core["Random.genDouble"].fn, True),
    "Random.genBool/0": (lambda m: bool(m.rng_next() >> 63), True),
    "Time.now/0": (lambda m: m.doc.f[NOW], True),
    "Time.datetime/0": (_datetime_now, True),
    "Time.today/0": (lambda m: _now(m).date().isoformat(), True),
    "Time.date/0": (lambda m: _now(m).date().isoformat(), True),
    "Time.time/0": (lambda m: fmt_time(_now(m)), True),
    "Time.zone/0": (lambda m: m.doc.f[ZONE], True),
    "Time.setZone/1": (_set_zone, True),
    "Time.make/2": (_time_make, False),
    "Date.make/3": (_date_make, False),
    "Date.dayOfWeek/1": (lambda s: parse_date(s).isoweekday(), False),
    "Date.offsetDay/2": (_offset_day, False),
    "Date.offsetMonth/2": (_offset_month, False),
    "Date.date/1": (lambda s: parse_datetime(s).date().isoformat(), False),
    "Date.time/1": (lambda s: fmt_time(parse_datetime(s)), False),
    "Date.between/2": (_between, False),
    "Date.future/2": (_shift, False),
    "Date.past/2": (lambda s, secs: _shift(s, -secs), False),
    "String.charOf/1": (_char_of, False),
    "Document.key/0": (lambda m: m.doc.f[KEY], True),
    "Document.space/0": (lambda m: m.doc.f[SPACE], True),
    "Document.seq/0": (lambda m: m.doc.f[SEQ], True),
    "Document.destroy/0": (_destroy, True),
    # result<T>, a service call's outcome: the map the runtime's call gives
    # (runtime/services.py result_value): state 0 in flight, 1 done, 2 failed.
    "result.has/0": (lambda r: r["state"] == 1, False),
    "result.finished/0": (lambda r: r["state"] != 0, False),
    "result.failed/0": (lambda r: r["state"] == 2, False),
    "result.code/0": (lambda r: r["code"], False),
    "result.message/0": (lambda r: r["message"], False),
    "result.as_maybe/0": (lambda r: r["value"] if r["state"] == 1 else None, False),
    "int.abs/0": (abs, False),
    "long.abs/0": (abs, False),
    "double.abs/0": (abs, False),
    "double.sqrt/0": (lambda x: math.sqrt(x) if x >= 0 else math.nan, False),
    "double.floor/0": (lambda x: float(math.floor(x)) if math.isfinite(x) else x, False),
    "double.ceil/0": (lambda x: float(math.ceil(x)) if math.isfinite(x) else x, False),
    "double.round/0": (_round_half_away, False),
    "double.roundTo/1": (_round_to, False),
    "string.length/0": (len, False),
    "string.split/1": (_split, False),
    "string.contains/1": (lambda s, w: w in s, False),
    "string.indexOf/1": (_index_of, False),
    "string.indexOf/2": (_index_of, False),
    "string.trim/0": (str.strip, False),
    "string.trimLeft/0": (str.lstrip, False),
    "string.trimRight/0": (str.rstrip, False),
    "string.upper/0": (str.upper, False),
    "string.lower/0": (str.lower, False),
    "string.mid/2": (_mid, False),
    "string.left/1": (_left, False),
    "string.right/1": (_right, False),
    "string.substr/2": (_substr, False),
    "string.startsWith/1": (str.startswith, False),
    "string.endsWith/1": (str.endswith, False),
    "string.multiply/1": (_multiply, True),
    "string.reverse/0": (lambda s: s[::-1], False),
    "principal.isAnonymous/0": (lambda p: authority_of(p) == ANONYMOUS_AUTHORITY, False),
    "principal.isAdamaDeveloper/0": (lambda p: authority_of(p) == DEVELOPER_AUTHORITY, False),
    "principal.fromAuthority/1": (lambda p, a: authority_of(p) == a, False),
    "principal.agent/0": (agent_of, False),
    "principal.authority/0": (authority_of, False),
    "timespan.seconds/0": (float, False),
    "timespan.minutes/0": (lambda s: s / 60.0, False),
    "timespan.hours/0": (lambda s: s / 3600.0, False),
    "sequence.reverse/0": (lambda xs: xs[::-1], False),
    "sequence.toArray/0": (list, False),
    "sequence.delete/0": (_table.delete_rows, True),
    "sequence.average/0": (_average, False),
    "sequence.min/0": (_min, False),
    "sequence.max/0": (_max, False),
    "map.clear/0": (_map_clear, True),
    "table.delete/0": (_table.delete_all, True),
    "record.delete/0": (_table.delete_row, True),
    # runtime helpers (not library rows)
    "table.new": (_table.new, False),
    "table.insert": (_table.insert, True),
    "table.rows": (_table.rows, False),
    "table.newest": (_table.newest, False),
    "table.by_id": (_table.by_id, False),
    "table.lookup": (_table.lookup, False),
    "table.set_indexed": (_table.set_indexed, True),
    "seq.project": (project, False),
    "seq.order": (order_by, False),
    "seq.limit": (limit, False),
    "seq.offset": (offset, False),
    "seq.shuffle": (shuffle, True),
    "value.eq": (values_equal, False),
    "value.copy": (copy_value, True),
    "debug": (_debug, True),
    "debug.line": (_debug_line, True),
    ASK.name: (ask, False),  # the stand-in: the runtime binds its own (vm/host.py RuntimeBound)
    SERVICE.name: (service, False),
    # stand-ins: no sender to tell (advm test, a host that binds nothing); the runtime binds its own
    VIEW_MERGE.name: (lambda value: False, False),
    VIEW_GOTO.name: (lambda path: False, False),
    "text.agent": (agent_of, False),
    "text.json": (dynamic_text, False),
    "Math.roundTo/2": (_round_to, False),
}
IMPLS.update(MORE)  # the rest of Adama's library (vm/stdlib_more.py)

# Sum takes its element kind from the import's result kind.
_SUMS = {"i": lambda xs: _sum(xs, "i"), "l": lambda xs: _sum(xs, "l"), "d": lambda xs: _sum(xs, "d")}

_WRAP = {
    "i": lambda v: wrap32(int(v)),
    "l": lambda v: wrap64(int(v)),
    "b": bool,
    "d": float,
}


def split_name(name: str) -> tuple[str, str, str]:
    """'Math.abs/1(d)d' -> ('Math.abs/1', 'd', 'd')."""
    base, sep, rest = name.partition("(")
    if not sep or ")" not in rest:
        raise KeyError(name)
    params, _, result = rest.partition(")")
    return base, params, result


def host_name(base: str, params: str, result: str) -> str:
    return f"{base}({params}){result}"


def _lifted(base: str):
    """`lift<positions>:<key>`: the library row `key` called with maybes at those
    argument positions; empty when any of them is empty (Adama's maybe overloads)."""
    mask, _, key = base[4:].partition(":")
    fn, wants = IMPLS[key]
    positions = [int(i) for i in mask.split(",") if i]

    def lifted(*args):
        values = args[1:] if wants else args
        for i in positions:
            if values[i] is None:
                return None
        return fn(*args)
    return lifted, wants


def _make(name: str) -> HostFunction:
    base, params, result = split_name(name)
    if base.startswith("lift") and ":" in base:
        fn, wants = _lifted(base)
        return HostFunction(fn, params, result, wants)
    if base == "sequence.sum/0":
        fn, wants = _SUMS[result], False
    else:
        fn, wants = IMPLS[base]
    # Library rows may compute outside the declared range (Math.abs of the
    # smallest int); runtime helpers return exact kinds and skip the wrapper.
    wrap = _WRAP.get(result) if "/" in base else None
    if wrap is not None:
        inner = fn

        def fn(*args, _inner=inner, _wrap=wrap):
            return _wrap(_inner(*args))
    return HostFunction(fn, params, result, wants)


# Library entries hold no per-document state (the machine comes in as an
# argument), so one set serves every document of the process: a woken
# document does not rebuild its imports' wrappers.
_LIBRARY: dict[str, HostFunction] = {}


def _library(name: str) -> HostFunction:
    made = _LIBRARY.get(name)
    if made is None:
        made = _LIBRARY[name] = _make(name)
    return made


class HostTable(Mapping):
    """Every host function a compiled document may import, made on demand;
    `bindings` gives the runtime's implementations of the functions vm/host.py
    declares RuntimeBound (import name -> HostFunction of that implementation)."""

    def __init__(self, extra: dict | None = None, bindings: dict[RuntimeBound, Callable] | None = None):
        self._made: dict[str, HostFunction] = dict(extra or {})
        self._bindings = {b.name: (b, fn) for b, fn in (bindings or {}).items()}

    def __getitem__(self, name: str) -> HostFunction:
        made = self._made.get(name)
        if made is None:
            made = self._made[name] = self._bound(name) or _library(name)
        return made

    def _bound(self, name: str) -> HostFunction | None:
        if not self._bindings:
            return None
        base, params, result = split_name(name)
        got = self._bindings.get(base)
        if got is None:
            return None
        declared, fn = got
        return HostFunction(fn, params, result, declared.wants_machine)

    def __contains__(self, name) -> bool:
        if name in self._made:
            return True
        try:
            base, _, result = split_name(name)
        except KeyError:
            return False
        if base.startswith("lift") and ":" in base:
            return base.partition(":")[2] in IMPLS
        return base in IMPLS or (base == "sequence.sum/0" and result in _SUMS)

    def __iter__(self):
        return iter(self._made)

    def __len__(self) -> int:
        return len(self._made)


def host_table(extra: dict | None = None, bindings: dict | None = None) -> HostTable:
    return HostTable(extra, bindings)
