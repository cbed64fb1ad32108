"""Machine values <-> plain JSON, driven by the type descriptors in a module's meta.

Descriptors (compiler/gen_types.describe): a primitive's name ("int", "string",
...), or ["enum", E], ["record", R], ["message", M], ["maybe", d], ["list", d],
["map", k, v], ["table", R], ["anon", [[name, d], ...]], ["future", d].

To JSON: ints and longs as numbers, doubles as numbers, enums by value name,
principals as {"agent", "authority"}, maybes as the value or null, lists and
tables as arrays (rows in order), maps as objects (keys as text), records and
messages as objects of their fields. From JSON (messages sent by clients):
the same shapes; enums may also be given by number, principals as text;
missing message fields take their defaults.

From JSON is where a client's value enters a document, so every value is
checked against its type here and nothing that does not fit goes in (spec/
sessions.md 2): dates are "YYYY-MM-DD", times "HH:MM", datetimes ISO-8601
with a time (held as the runtime writes them: milliseconds and an offset),
numbers finite, text valid Unicode (no lone surrogate: the store could not
encode it), and nothing nests deeper than MAX_DEPTH. An error names the field
and the type it wanted, never the value it was given.
"""
from __future__ import annotations

import datetime as _dt
import math
import re

from .docslots import agent_of, as_principal, authority_of
from .table import rows as table_rows

INT_RANGE = (-(1 << 31), (1 << 31) - 1)
LONG_RANGE = (-(1 << 63), (1 << 63) - 1)
# Levels of arrays and objects one input value may hold (spec/protocol.md 8.6):
# far below what the store and snapshot readers take (cbor2 reads 400 levels),
# so whatever a document accepts loads again.
MAX_DEPTH = 64


class BadValue(ValueError):
    """A JSON value that does not fit the type it is given for."""


def enum_names(meta: dict) -> dict:
    """Per enum type, value -> the name it prints as (two names, one number:
    the first declared)."""
    out = {}
    for name, info in meta["enums"].items():
        names = {}
        for value_name, value in info["values"].items():
            names.setdefault(value, value_name)
        out[name] = names
    return out


class JsonWriter:
    """Machine values to plain JSON: the one walk over a value and its type
    descriptor. As it is (`to_json`) every field of a record shows and longs
    are numbers; the views' Renderer (views/privacy.py) is a JsonWriter that
    decides which records and members a viewer sees (`record`, `rows`), writes
    longs as text and leaves out what is never shown (`other`). `ctx` is
    whatever those overrides need (the viewer); this class passes it along."""

    long_as_text = False

    def __init__(self, meta: dict, enums: dict | None = None):
        self.meta = meta
        self.enum_names = enums if enums is not None else enum_names(meta)

    def scalar(self, v, desc):
        if desc == "int":
            return int(v)
        if desc == "long":
            return str(int(v)) if self.long_as_text else int(v)
        if desc == "bool":
            return bool(v)
        if desc in ("double", "timespan"):
            x = float(v)
            return x if math.isfinite(x) else None
        if desc == "principal":
            return {"agent": agent_of(v), "authority": authority_of(v)}
        if type(desc) is list:  # enum
            return self.enum_names[desc[1]].get(v, v)
        return v

    def value(self, v, desc, ctx=None):
        if isinstance(desc, str):
            return self.scalar(v, desc)
        head = desc[0]
        if head == "enum":
            return self.enum_names[desc[1]].get(v, v)
        if head == "maybe":
            return None if v is None else self.value(v, desc[1], ctx)
        if head == "record":
            return None if v is None else self.record(v, desc[1], ctx)
        if head == "list":
            inner = desc[1]
            if not isinstance(inner, str) and inner[0] == "record":
                return self.rows(v, inner[1], ctx)
            return [self.value(x, inner, ctx) for x in v]
        if head == "table":
            return self.rows(table_rows(v), desc[1], ctx)
        if head == "map":
            kdesc, vdesc = desc[1], desc[2]
            records = not isinstance(vdesc, str) and vdesc[0] == "record"
            out = {}
            for k, x in v.items():
                shown = self.value(x, vdesc, ctx)
                if shown is None and records and x is not None:
                    continue  # a record the viewer may not see: the entry goes
                out[self.key(k, kdesc)] = shown
            return out
        if head == "message":
            if v is None:
                return None
            info = self.meta["messages"][desc[1]]
            return {f["name"]: self.value(v.f[f["slot"]], f["type"], ctx) for f in info["fields"]}
        if head == "anon":
            return {name: self.value(v.get(name), d, ctx) for name, d in desc[1]}
        if head == "result":  # a service call's outcome (runtime/services.py result_value)
            state = v["state"]
            return {"has": state == 1, "finished": state != 0, "failed": state == 2, "code": v["code"],
                    "message": v["message"], "value": self.value(v["value"], desc[1], ctx) if state == 1 else None}
        return self.other(v, desc)

    def key(self, k, kdesc) -> str:
        """A map key as an object key (map keys are int, long, string,
        principal or an enum)."""
        if isinstance(k, str):
            return k
        if not isinstance(kdesc, str) and kdesc[0] == "enum":
            return str(self.enum_names[kdesc[1]].get(k, k))
        return str(k)

    def record(self, rec, name: str, ctx):
        """A record of type `name` (not None): every field."""
        info = self.meta["records"][name]
        return {f["name"]: self.value(rec.f[f["slot"]], f["type"], ctx) for f in info["fields"]}

    def rows(self, items, name: str, ctx) -> list:
        """A list's records, or a table's rows in order."""
        return [None if x is None else self.record(x, name, ctx) for x in items]

    def other(self, v, desc):
        """A value of no type above (a future): as it is."""
        return v


def to_json(v, desc, meta):
    """`v` of type `desc` as plain JSON (the module docstring's rules)."""
    return JsonWriter(meta).value(v, desc)


_KINDS = {str: "a string", int: "a number", float: "a number", bool: "a boolean",
          type(None): "null", list: "an array", dict: "an object"}


def _fail(where: str, want: str, got) -> BadValue:
    return BadValue(f"{where}: expected {want}, got {_KINDS.get(type(got), 'a value')}")


# ---------------------------------------------------------------- checks of raw JSON


def valid_text(s: str) -> bool:
    """Whether `s` is text UTF-8 can carry (no lone surrogate)."""
    if s.isascii():
        return True
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def depth_of(data, limit: int = MAX_DEPTH) -> int:
    """Levels of arrays and objects in `data` (a scalar is 0), counted up to
    limit + 1 only: a value past the limit is not walked to its bottom."""
    if type(data) is dict:
        items = data.values()
    elif type(data) is list:
        items = data
    else:
        return 0
    deepest = 0
    if limit > 0:
        for x in items:
            if type(x) is dict or type(x) is list:
                d = depth_of(x, limit - 1)
                if d > deepest:
                    deepest = d
                    if d >= limit:
                        break
    return deepest + 1


def has_bad_text(data) -> bool:
    """Whether a string in `data` (a value or an object's key) is not valid
    Unicode, or an object's key is not text at all (JSON never makes one; a
    Python caller may). Call it on values depth_of has bounded."""
    t = type(data)
    if t is str:
        return not valid_text(data)
    if t is dict:
        for k, x in data.items():
            if type(k) is not str or not valid_text(k) or has_bad_text(x):
                return True
    elif t is list:
        for x in data:
            if has_bad_text(x):
                return True
    return False


def input_problem(data, limit: int = MAX_DEPTH):
    """Why a raw input value may not enter a document, as (code, text), or
    None: `too_deep` past `limit` levels, `bad_text` for a lone surrogate.
    For the edges that take JSON before any type is known (the protocol, a
    script line), so the value never reaches a worker, a log or the store."""
    if depth_of(data, limit) > limit:
        return "too_deep", f"nests deeper than {limit} levels of arrays and objects"
    if has_bad_text(data):
        return "bad_text", ("holds text that is not valid Unicode (a lone surrogate) "
                            "or an object key that is not text")
    return None


def from_json(data, desc, meta, new_struct, where: str = "message"):
    """A machine value of type `desc` from JSON `data`. `new_struct(kind, name)`
    returns a fresh record or message with its defaults. (decoder() is the
    one implementation; this is it for a value decoded once.)"""
    def maker(kind, name):
        return lambda: new_struct(kind, name)
    return decoder(desc, meta, maker)(data, where)


# ---------------------------------------------------------------- compiled decoders
#
# A channel receives the same type again and again, so `decoder()` walks the
# descriptor once and returns a function that only checks and builds (from_json
# is the same function, made for one value). The path in an error is kept as
# nested tuples and rendered only on failure, since most messages never fail;
# its length is also how many arrays and objects hold the value (`levels`).


def where_text(where) -> str:
    parts = []
    while type(where) is tuple:
        where, part = where
        parts.append(f"[{part}]" if type(part) is int else part)
    return where + "".join(reversed(parts))


def _bad(where, want: str, got) -> BadValue:
    return _fail(where_text(where), want, got)


def levels(where) -> int:
    """How many arrays and objects hold the value at `where`."""
    n = 0
    while type(where) is tuple:
        where = where[0]
        n += 1
    return n


def _too_deep(where) -> BadValue:
    return BadValue(f"{where_text(where)}: nests deeper than {MAX_DEPTH} levels of arrays and objects")


def _int_decoder(desc: str):
    lo, hi = INT_RANGE if desc == "int" else LONG_RANGE

    def dec(data, where):
        if type(data) is not int or not lo <= data <= hi:
            raise _bad(where, desc, data)
        return data
    return dec


def _bool(data, where):
    if type(data) is not bool:
        raise _bad(where, "bool", data)
    return data


def _double(data, where):
    # JSON has no infinities or NaN (Python's reader takes them, and 1e999)
    if type(data) is float and math.isfinite(data) or type(data) is int:
        return float(data)
    raise _bad(where, "a finite number", data)


def _string(data, where):
    if not isinstance(data, str):
        raise _bad(where, "a string", data)
    if not data.isascii() and not valid_text(data):
        raise BadValue(f"{where_text(where)}: not valid Unicode (a lone surrogate)")
    return data


def _principal(data, where):
    if isinstance(data, dict):
        agent, authority = data.get("agent"), data.get("authority", "")
        if isinstance(agent, str) and isinstance(authority, str):
            _string(agent, (where, ".agent"))
            _string(authority, (where, ".authority"))
            return f"{agent}@{authority}"
    elif isinstance(data, str):
        return as_principal(_string(data, where))
    raise _bad(where, "a principal", data)


def _dynamic(data, where):
    problem = input_problem(data, MAX_DEPTH - levels(where))
    if problem is None:
        return data
    if problem[0] == "too_deep":  # counted from the message, not from this field
        raise _too_deep(where)
    raise BadValue(f"{where_text(where)}: {problem[1]}")


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
_TIME = re.compile(r"([01]\d|2[0-3]):[0-5]\d", re.ASCII)
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?",
                       re.ASCII)


def _date(data, where):
    if isinstance(data, str) and _DATE.fullmatch(data):
        try:
            _dt.date.fromisoformat(data)
            return data
        except ValueError:
            pass
    raise _bad(where, "a date (YYYY-MM-DD)", data)


def _time(data, where):
    if isinstance(data, str) and _TIME.fullmatch(data):
        return data
    raise _bad(where, "a time (HH:MM)", data)


def _datetime(data, where):
    # Held as the runtime writes datetimes (vm/stdlib.py): milliseconds and an
    # offset, UTC when none was given; so equal instants compare equal.
    if isinstance(data, str) and _DATETIME.fullmatch(data):
        try:
            d = _dt.datetime.fromisoformat(data)
        except ValueError:
            d = None
        if d is not None:
            if d.tzinfo is None:
                d = d.replace(tzinfo=_dt.timezone.utc)
            return d.isoformat(timespec="milliseconds")
    raise _bad(where, "a datetime (ISO-8601, e.g. 2026-01-01T09:30:00Z)", data)


def _label_decoder(meta):
    states = meta.get("states", {})

    def dec(data, where):
        if isinstance(data, str) and (data == "" or data in states):
            return data
        raise _bad(where, "a state of the document", data)
    return dec


_PRIMITIVES = {"bool": _bool, "double": _double, "timespan": _double, "principal": _principal,
               "dynamic": _dynamic, "date": _date, "time": _time, "datetime": _datetime}


def decoder(desc, meta, struct_maker, _structs=None):
    """A function (data, where) -> machine value of type `desc`, equal to
    `from_json(data, desc, meta, new_struct, where)`. `struct_maker(kind,
    name)` returns a function of no arguments that makes a fresh record or
    message with its defaults (it is asked once per type, here)."""
    structs = {} if _structs is None else _structs  # per record type, so recursive types end
    if isinstance(desc, str):
        if desc in ("int", "long"):
            return _int_decoder(desc)
        if desc == "label":
            return _label_decoder(meta)
        return _PRIMITIVES.get(desc, _string)
    head = desc[0]
    if head == "enum":
        values = meta["enums"][desc[1]]["values"]
        numbers = set(values.values())
        want = f"a value of enum {desc[1]}"

        def enum(data, where):
            if isinstance(data, str) and data in values:
                return values[data]
            if type(data) is int and data in numbers:
                return data
            raise _bad(where, want, data)
        return enum
    if head in ("record", "message"):
        key = (head, desc[1])
        if key not in structs:
            structs[key] = None  # filled below; a nested use looks it up when it runs
            structs[key] = _struct_decoder(head, desc[1], meta, struct_maker, structs)
        made = structs[key]
        if made is not None:
            return made

        def nested(data, where):
            # The type inside itself: the one way a typed value nests without
            # bound, so the one place (besides dynamic) that counts levels.
            if levels(where) >= MAX_DEPTH:
                raise _too_deep(where)
            return structs[key](data, where)
        return nested
    if head == "maybe":
        inner = decoder(desc[1], meta, struct_maker, structs)

        def maybe(data, where):
            return None if data is None else inner(data, where)
        return maybe
    if head == "list":
        item = decoder(desc[1], meta, struct_maker, structs)

        def listed(data, where):
            if not isinstance(data, list):
                raise _bad(where, "an array", data)
            return [item(x, (where, i)) for i, x in enumerate(data)]
        return listed
    if head == "map":
        numeric = desc[1] in ("int", "long") or (isinstance(desc[1], list) and desc[1][0] == "enum")
        kdec = decoder(desc[1], meta, struct_maker, structs)
        vdec = decoder(desc[2], meta, struct_maker, structs)

        def mapped(data, where):
            if not isinstance(data, dict):
                raise _bad(where, "an object", data)
            out = {}
            for k, x in data.items():
                key = k
                if numeric:
                    try:
                        key = int(k)
                    except ValueError:
                        key = k
                # from_json evaluates the value before the key (an assignment's order)
                value = vdec(x, (where, f"[{k}]"))
                out[kdec(key, (where, " key"))] = value
            return out
        return mapped

    def unsupported(data, where):
        raise BadValue(f"{where_text(where)}: values of type {desc} cannot come from JSON")
    return unsupported


def _struct_decoder(head: str, name: str, meta, struct_maker, structs):
    info = meta["records" if head == "record" else "messages"][name]
    make = struct_maker(head, name)
    # A message's `@parsed` blocks (language.md 4.5), when the maker carries them: they run on
    # the message once its fields are decoded.
    after = getattr(make, "parsed", None)
    # A maker that runs code (`new`) must not run for a message refused for
    # an unknown field; one that copies defaults may, and then the names are
    # checked in the same pass that decodes the values.
    runs_code = bool(info.get("new"))
    fields = {f["name"]: (f["slot"], decoder(f["type"], meta, struct_maker, structs), "." + f["name"])
              for f in info["fields"]}
    want = f"an object ({name})"

    def unknown(data, where):
        for field in data:
            if field not in fields:
                return BadValue(f"{where_text(where)}: {name} has no field '{field}'")
        return None

    def struct(data, where):
        if not isinstance(data, dict):
            raise _bad(where, want, data)
        if runs_code:
            bad = unknown(data, where)
            if bad is not None:
                raise bad
        rec = make()
        f = rec.f
        try:
            for field, value in data.items():
                slot, dec, suffix = fields[field]
                f[slot] = dec(value, (where, suffix))
        except Exception:
            # from_json refuses unknown names before it decodes any value
            bad = unknown(data, where)
            if bad is not None:
                raise bad from None
            raise
        if after is not None:
            after(rec)
        return rec
    return struct
