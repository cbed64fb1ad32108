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
