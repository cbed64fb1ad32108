"""How checked types become machine values.

Each type has a *kind* (the letter a function signature, a record layout or a
host import uses): `i` int and enums, `l` long, `b` bool, `d` double and
timespan, `o` everything else. Kinds i/l/b share the int64 bank, `d` the double
bank, `o` the object bank. In the object bank values are plain Python data (the
runtime representation is documented in vm/stdlib.py): an empty maybe is None,
a full one holds the value itself; lists and arrays are lists; maps are dicts;
records and messages are machine Records; principals, dates and labels are
strings.

`describe(t)` turns a type into the JSON-able descriptor the module's metadata
carries, so the runtime can convert values to and from JSON without the checker.
"""
from __future__ import annotations

from . import types as T
from ..vm.docslots import NO_ONE

KIND_OF_PRIM = {"int": "i", "long": "l", "bool": "b", "double": "d", "timespan": "d"}
BANK_OF_KIND = {"i": "i", "l": "i", "b": "i", "d": "d", "o": "o"}


def kind_of(t: T.Type) -> str:
    if isinstance(t, T.Prim):
        return KIND_OF_PRIM.get(t.name, "o")
    if isinstance(t, T.EnumType):
        return "i"
    return "o"


def bank_of(t: T.Type) -> str:
    return BANK_OF_KIND[kind_of(t)]


def result_kind(t: T.Type) -> str:
    """The kind a function returning `t` declares ('' for void)."""
    return "" if t == T.VOID else kind_of(t)


def is_long(t: T.Type) -> bool:
    return t == T.LONG


def is_intlike(t: T.Type) -> bool:
    """Values compared and moved as plain integers in the int bank."""
    return t in (T.INT, T.LONG, T.BOOL) or isinstance(t, T.EnumType)


def constant_default(t: T.Type, info) -> tuple[bool, object]:
    """(True, value) when a type's default is a constant a record layout can
    hold (shared lists and maps are copied per new record by the machine);
    (False, None) when it must be built by code (nested records)."""
    if isinstance(t, T.Prim):
        return True, PRIM_DEFAULTS.get(t.name, "")
    if isinstance(t, T.EnumType):
        en = info.enums.get(t.name)
        return True, (en.values[en.default] if en and en.values else 0)
    if isinstance(t, T.MaybeType):
        return True, None
    if isinstance(t, (T.ListType, T.ArrayType)):
        return True, []
    if isinstance(t, T.MapType):
        return True, {}
    if isinstance(t, (T.RecordType, T.MessageType, T.TableType)):
        return False, None
    return True, None


PRIM_DEFAULTS = {
    "int": 0, "long": 0, "bool": False, "double": 0.0, "timespan": 0.0,
    "string": "", "principal": NO_ONE, "label": "", "date": "1970-01-01",
    "datetime": "1970-01-01T00:00:00.000+00:00", "time": "00:00", "dynamic": None,
    "json": None, "asset": None,
    # a text with no lines yet, as Adama writes a fresh one (language.md 3.13.1)
    "text": {"fragments": {}, "order": {}, "changes": {}, "seq": 0},
}


def describe(t: T.Type):
    """A JSON-able descriptor of a type for the module's metadata."""
    if isinstance(t, T.Prim):
        # json values and assets are held and shown as dynamic is
        return "dynamic" if t in (T.JSON, T.ASSET, T.TEXT) else t.name
    if isinstance(t, T.EnumType):
        return ["enum", t.name]
    if isinstance(t, T.RecordType):
        return ["record", t.name]
    if isinstance(t, T.MessageType):
        return ["message", t.name]
    if isinstance(t, T.MaybeType):
        return ["maybe", describe(t.inner)]
    if isinstance(t, (T.ListType, T.ArrayType)):
        return ["list", describe(t.element)]
    if isinstance(t, T.MapType):
        return ["map", describe(t.key), describe(t.value)]
    if isinstance(t, T.TableType):
        return ["table", t.record.name]
    if isinstance(t, T.AnonType):
        return ["anon", [[n, describe(ft)] for n, ft in t.fields]]
    if isinstance(t, T.ResultType):
        return ["result", describe(t.inner)]
    if isinstance(t, T.FutureType):
        return ["future", describe(t.inner)]
    return "void" if t == T.VOID else "dynamic"


# The key of a document bubble's hidden parameter, the viewer's state (@viewer),
# among a function's locals (Emitter.vars)
VIEWER_KEY = ("$viewer",)
# A @web handler's hidden parameters, after its path's and its message (language.md 4.28):
# @parameters (the query string, a dynamic) and @headers (a map<string, string>).
WEB_PARAMETERS_KEY = ("$parameters",)
WEB_HEADERS_KEY = ("$headers",)
