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
"""
from __future__ import annotations

import math

from .docslots import agent_of, as_principal, authority_of

INT_RANGE = (-(1 << 31), (1 << 31) - 1)
LONG_RANGE = (-(1 << 63), (1 << 63) - 1)


class BadValue(ValueError):
    """A JSON value that does not fit the type it is given for."""


def to_json(v, desc, meta):
    if isinstance(desc, str):
        if desc in ("int", "long"):
            return int(v)
        if desc == "bool":
            return bool(v)
        if desc in ("double", "timespan"):
            x = float(v)
            return x if math.isfinite(x) else None
        if desc == "principal":
            return {"agent": agent_of(v), "authority": authority_of(v)}
        return v
    head = desc[0]
    if head == "enum":
        for name, value in meta["enums"][desc[1]]["values"].items():
            if value == v:
                return name
        return v
    if head in ("record", "message"):
        if v is None:
            return None
        info = meta["records" if head == "record" else "messages"][desc[1]]
        return {f["name"]: to_json(v.f[f["slot"]], f["type"], meta) for f in info["fields"]}
    if head == "maybe":
        return None if v is None else to_json(v, desc[1], meta)
    if head == "list":
        return [to_json(x, desc[1], meta) for x in v]
    if head == "map":
        return {str(to_json(k, desc[1], meta)) if not isinstance(k, str) else k: to_json(x, desc[2], meta)
                for k, x in v.items()}
    if head == "table":
        from .table import rows

        return [to_json(r, ["record", desc[1]], meta) for r in rows(v)]
    if head == "anon":
        return {name: to_json(v.get(name), d, meta) for name, d in desc[1]}
    return v


def _fail(where: str, want: str, got) -> BadValue:
    return BadValue(f"{where}: expected {want}, got {type(got).__name__} {got!r:.40}")


def from_json(data, desc, meta, new_struct, where: str = "message"):
    """A machine value of type `desc` from JSON `data`. `new_struct(kind, name)`
    returns a fresh record or message with its defaults."""
    if isinstance(desc, str):
        if desc in ("int", "long"):
            lo, hi = INT_RANGE if desc == "int" else LONG_RANGE
            if type(data) is not int or not lo <= data <= hi:
                raise _fail(where, desc, data)
            return data
        if desc == "bool":
            if type(data) is not bool:
                raise _fail(where, "bool", data)
            return data
        if desc in ("double", "timespan"):
            if type(data) not in (int, float):
                raise _fail(where, "a number", data)
            return float(data)
        if desc == "principal":
            if isinstance(data, dict) and isinstance(data.get("agent"), str):
                return f"{data['agent']}@{data.get('authority', '')}"
            if isinstance(data, str):
                return as_principal(data)
            raise _fail(where, "a principal", data)
        if desc == "dynamic":
            return data
        if not isinstance(data, str):
            raise _fail(where, desc, data)
        return data
    head = desc[0]
    if head == "enum":
        values = meta["enums"][desc[1]]["values"]
        if isinstance(data, str) and data in values:
            return values[data]
        if type(data) is int and data in values.values():
            return data
        raise _fail(where, f"a value of enum {desc[1]}", data)
    if head in ("record", "message"):
        if not isinstance(data, dict):
            raise _fail(where, f"an object ({desc[1]})", data)
        info = meta["records" if head == "record" else "messages"][desc[1]]
        fields = {f["name"]: f for f in info["fields"]}
        for name in data:
            if name not in fields:
                raise BadValue(f"{where}: {desc[1]} has no field '{name}'")
        rec = new_struct(head, desc[1])
        for name, value in data.items():
            f = fields[name]
            rec.f[f["slot"]] = from_json(value, f["type"], meta, new_struct, f"{where}.{name}")
        return rec
    if head == "maybe":
        return None if data is None else from_json(data, desc[1], meta, new_struct, where)
    if head == "list":
        if not isinstance(data, list):
            raise _fail(where, "an array", data)
        return [from_json(x, desc[1], meta, new_struct, f"{where}[{i}]") for i, x in enumerate(data)]
    if head == "map":
        if not isinstance(data, dict):
            raise _fail(where, "an object", data)
        out = {}
        for k, x in data.items():
            key = k
            if desc[1] in ("int", "long") or (isinstance(desc[1], list) and desc[1][0] == "enum"):
                try:
                    key = int(k)
                except ValueError:
                    key = k
            out[from_json(key, desc[1], meta, new_struct, f"{where} key")] = \
                from_json(x, desc[2], meta, new_struct, f"{where}[{k}]")
        return out
    raise BadValue(f"{where}: values of type {desc} cannot come from JSON")


# ---------------------------------------------------------------- compiled decoders
#
# from_json walks the descriptor on every message. A channel receives the same
# type again and again, so `decoder()` walks it once and returns a function that
# only checks and builds. It accepts and refuses exactly what from_json does,
# with the same values and the same error text (tests/test_values_decoder.py);
# the path in an error is kept as nested tuples and rendered only on failure,
# since most messages never fail.


def where_text(where) -> str:
    parts = []
    while type(where) is tuple:
        where, part = where
        parts.append(f"[{part}]" if type(part) is int else part)
    return where + "".join(reversed(parts))


def _bad(where, want: str, got) -> BadValue:
    return _fail(where_text(where), want, got)


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
    if type(data) not in (int, float):
        raise _bad(where, "a number", data)
    return float(data)


def _principal(data, where):
    if isinstance(data, dict) and isinstance(data.get("agent"), str):
        return f"{data['agent']}@{data.get('authority', '')}"
    if isinstance(data, str):
        return as_principal(data)
    raise _bad(where, "a principal", data)


def _dynamic(data, where):
    return data


def _text_decoder(desc: str):
    def dec(data, where):
        if not isinstance(data, str):
            raise _bad(where, desc, data)
        return data
    return dec


def decoder(desc, meta, struct_maker, _structs=None):
    """A function (data, where) -> machine value of type `desc`, equal to
    `from_json(data, desc, meta, new_struct, where)`. `struct_maker(kind,
    name)` returns a function of no arguments that makes a fresh record or
    message with its defaults (it is asked once per type, here)."""
    structs = {} if _structs is None else _structs  # per record type, so recursive types end
    if isinstance(desc, str):
        if desc in ("int", "long"):
            return _int_decoder(desc)
        if desc == "bool":
            return _bool
        if desc in ("double", "timespan"):
            return _double
        if desc == "principal":
            return _principal
        if desc == "dynamic":
            return _dynamic
        return _text_decoder(desc)
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
        return lambda data, where: structs[key](data, where)
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
        return rec
    return struct
